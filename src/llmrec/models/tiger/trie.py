"""The prefix trie of a catalog's semantic ids, as one table per level, for constrained decoding and for
exact scoring that visits each distinct prefix once.

Level ``l`` has one node per distinct prefix of length ``l`` among the catalog's code tuples (level 0: the
root alone). ``children[l][n, c]`` is the node that prefix ``n`` becomes when code ``c`` follows it (at the
last level, the item id 1..N), -1 where no catalog item continues that way.
"""

from __future__ import annotations

import torch
from torch import Tensor

from llmrec.semantic_ids import SemanticIds


class CodeTrie:
    def __init__(self, ids: SemanticIds) -> None:
        codes = ids.codes.cpu()  # (N, C)
        num_items, levels = codes.shape
        self.level_sizes = ids.level_sizes
        self.codes = codes
        # node[l][i]: item i's prefix of length l, numbered in lexicographic order of the prefixes
        self.node = [torch.zeros(num_items, dtype=torch.long)]
        for level in range(1, levels):
            self.node.append(torch.unique(codes[:, :level], dim=0, return_inverse=True)[1])
        self.num_nodes = [int(n.max()) + 1 for n in self.node]
        item_ids = torch.arange(1, num_items + 1)
        self.children: list[Tensor] = []
        self.leaf_counts: list[Tensor] = []  # leaf_counts[l][n]: catalog items below node n
        self.edge_codes: list[Tensor] = []  # edge_codes[l][n]: the code that led to node n (l >= 1)
        self.ancestors: list[Tensor] = []  # ancestors[l][j, n]: node n's ancestor at level j < l
        for level in range(levels):
            below = self.node[level + 1] if level + 1 < levels else item_ids
            table = torch.full((self.num_nodes[level], self.level_sizes[level]), -1, dtype=torch.long)
            table[self.node[level], codes[:, level]] = below
            self.children.append(table)
            self.leaf_counts.append(torch.bincount(self.node[level], minlength=self.num_nodes[level]))
            edges = torch.zeros(self.num_nodes[level], dtype=torch.long)
            ancestors = torch.zeros(level, self.num_nodes[level], dtype=torch.long)
            if level:
                edges[self.node[level]] = codes[:, level - 1]
                ancestors[:, self.node[level]] = torch.stack(self.node[:level])
            self.edge_codes.append(edges)
            self.ancestors.append(ancestors)

    @property
    def num_levels(self) -> int:
        return len(self.level_sizes)

    def to(self, device: torch.device) -> CodeTrie:
        """This trie with its tables on ``device`` (a no-op where they are already there)."""
        if self.codes.device == device:
            return self
        self.codes = self.codes.to(device)
        for tables in (self.node, self.children, self.leaf_counts, self.edge_codes, self.ancestors):
            tables[:] = [t.to(device) for t in tables]
        return self

    def exhausted(self, excluded: Tensor) -> list[Tensor]:
        """Entry ``l`` masks what a level-``l`` node's children point to: (B, nodes at level ``l + 1``)
        bool, True where every item below that node is excluded in the row; the last entry, over items, is
        ``excluded`` (B, N+1) itself (column 0 unused)."""
        per_item = excluded[:, 1:].long()  # (B, N)
        out = []
        for level in range(1, self.num_levels):
            hit = torch.zeros(
                excluded.shape[0], self.num_nodes[level], dtype=torch.long, device=excluded.device
            )
            hit.scatter_add_(1, self.node[level].expand_as(per_item), per_item)
            out.append(hit == self.leaf_counts[level])  # (B, P_l)
        return [*out, excluded]
