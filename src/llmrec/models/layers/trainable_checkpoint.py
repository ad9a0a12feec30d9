"""Checkpoints that hold only the trained tensors of a model around a frozen backbone.

The frozen part is rebuilt from its spec on load (``configure_model``), so a checkpoint is megabytes, not
the backbone's gigabytes. Tied weights (T5's shared token table) appear under every alias in a state
dict, hence ``remove_duplicate=False`` throughout. Under FSDP and activation checkpointing the blocks sit
inside wrapper modules whose names appear in ``named_parameters`` but not in the (full) state dict those
wrappers write; :func:`state_dict_name` drops them so both sides name a tensor alike.
"""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl

# The child names torch's FSDP and checkpoint wrappers give the module they wrap.
WRAPPER_PREFIXES = ("_fsdp_wrapped_module.", "_checkpoint_wrapped_module.")


def state_dict_name(parameter_name: str) -> str:
    """A parameter's name as a full state dict holds it: wrapper modules left out."""
    for prefix in WRAPPER_PREFIXES:
        parameter_name = parameter_name.replace(prefix, "")
    return parameter_name


class TrainableOnlyCheckpoint(pl.LightningModule):
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Keep only the trainable tensors: frozen backbones are rebuilt from their spec on load."""
        params = self.named_parameters(remove_duplicate=False)
        trainable = {state_dict_name(name) for name, p in params if p.requires_grad}
        checkpoint["state_dict"] = {k: v for k, v in checkpoint["state_dict"].items() if k in trainable}

    def load_state_dict(self, state_dict: Any, strict: bool = True, assign: bool = False) -> Any:
        """Frozen parameters and buffers may be missing; anything else missing or unexpected is an error."""
        params = self.named_parameters(remove_duplicate=False)
        frozen = {state_dict_name(name) for name, p in params if not p.requires_grad}
        frozen |= {state_dict_name(name) for name, _ in self.named_buffers(remove_duplicate=False)}
        result = super().load_state_dict(state_dict, strict=False, assign=assign)
        missing = [k for k in result.missing_keys if state_dict_name(k) not in frozen]
        if strict and (missing or result.unexpected_keys):
            raise RuntimeError(f"checkpoint mismatch: missing {missing}, unexpected {result.unexpected_keys}")
        return result
