# llmrec: `make run` trains and compares the baselines on the synthetic default; `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml setup.py | cksum | cut -d' ' -f1)
DATA ?= ../shared/data

.PHONY: help setup run test test-slow lint format wheel-smoke bench-accuracy bench-speed bench-recbole recbole-venv clean

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first, pinned: on CPU machines this takes the local CPU wheel, so nothing pulls CUDA builds
	$(BIN)/pip install -q torch==2.13.0
	# [cpu]: faiss-cpu; on GPU hosts install '.[gpu,dev]' instead (one faiss build, never both)
	$(BIN)/pip install -q -e '.[cpu,dev]'
	rm -f $(VENV)/.installed-* && touch $(STAMP)

setup: $(STAMP) ## create .venv and install llmrec with its dependencies (torch first)

run: setup ## train + compare popularity, SASRec, BERT4Rec on the synthetic dataset (CPU, ~2 min)
	$(BIN)/python -m llmrec -m experiment=baselines 'hydra.sweep.dir=outputs/default_run/$${now:%Y-%m-%d_%H-%M-%S}'

test: setup ## run the fast test suite
	$(BIN)/python -m pytest

test-slow: setup ## run the slow tests too
	$(BIN)/python -m pytest -m "slow or not slow"

lint: setup ## ruff lint and format check
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

wheel-smoke: setup ## build the wheel, install it into a fresh venv outside the checkout, run tiny jobs (~2 min)
	.ci/wheel_smoke.sh

format: setup ## ruff fix and format
	$(BIN)/ruff check --fix src tests benchmarks
	$(BIN)/ruff format src tests benchmarks

bench-accuracy: setup ## SASRec/BERT4Rec accuracy on real data in $(DATA), best settings of experiments/004 (long)
	$(BIN)/python benchmarks/accuracy_baselines.py --data-root $(DATA) \
	  --run beauty:sasrec:datamodule.batch_size=128,model.lr=0.0005,callbacks.early_stopping.patience=15 \
	  --run ml1m:sasrec:model.hidden=128,model.inner=512,model.dropout=0.2,model.attn_dropout=0.2,datamodule.batch_size=128,callbacks.early_stopping.patience=30 \
	  --run ml1m:bert4rec:datamodule.batch_size=256,model.dropout=0.1,model.attn_dropout=0.1,callbacks.early_stopping.patience=20

bench-speed: setup ## evaluation vs its matmul+top-k floor, and the scaling table (synthetic, ~12 min)
	$(BIN)/python benchmarks/eval_floor.py
	$(BIN)/python benchmarks/scaling.py

# RecBole 1.2.1, the peer, in its own venv: it needs numpy<2, pandas<3, setuptools<81, ray==2.6.3.
RECBOLE_VENV := .venv-recbole
$(RECBOLE_VENV)/.installed:
	$(PYTHON) -m venv $(RECBOLE_VENV)
	$(RECBOLE_VENV)/bin/pip install -q torch==2.13.0
	$(RECBOLE_VENV)/bin/pip install -q recbole==1.2.1 'numpy<2' 'pandas<3' 'setuptools<81' ray==2.6.3
	touch $@

recbole-venv: $(RECBOLE_VENV)/.installed ## create .venv-recbole with RecBole 1.2.1 and its pins

bench-recbole: setup recbole-venv ## llmrec vs RecBole SASRec on Beauty and ML-1M in $(DATA) (long: ~1 h)
	$(BIN)/python benchmarks/peer_recbole.py --data-root $(DATA) --dataset beauty --recbole-minutes 40 --llmrec-minutes 15
	$(BIN)/python benchmarks/peer_recbole.py --data-root $(DATA) --dataset ml1m --recbole-minutes 5 --llmrec-minutes 30

clean: ## remove outputs and caches (not the venv)
	rm -rf outputs multirun .cache .pytest_cache .ruff_cache
