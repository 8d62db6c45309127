# Two commands do everything on a fresh machine: `make book` and `make test` (see README.md).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := book

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# jupyter-book's own command line, with Sphinx reading (so executing) BOOK_JOBS pages at a time (default: the
# CPU cores, at most 4; BOOK_JOBS=1 runs them one after another as plain `jupyter-book build` does); see bookkit/jb.py
JB := $(PY) -m bookkit.jb
BOOK ?= .
# Extra jupyter-book flags; the default turns Sphinx warnings (broken references, bad glue keys) into errors.
JB_FLAGS ?= -W -n --keep-going
LATEXMK ?= latexmk
PDFLATEX ?= pdflatex
LATEX_DEBS := latexmk texlive-latex-recommended texlive-fonts-recommended texlive-latex-extra tex-gyre

# Pages and tests import the repository's packages from the working tree.
export PYTHONPATH := $(CURDIR)$(if $(PYTHONPATH),:$(PYTHONPATH),)
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.PHONY: book html pdf test venv clean clean-cache bench notebooks lab

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $@

book: html pdf

# The execution cache is keyed on each page's code cells only; when the packages the pages import or the
# committed files they read (reference runs, recorded benchmark results) change, outputs could be stale, so a
# hash of those files decides whether the cache is still valid. Sphinx's environment (.doctrees) goes too, or
# it would keep serving the old outputs of unchanged pages. A change to _config.yml or _toc.yml (titles,
# numbering) clears only Sphinx's environment: Sphinx would not re-read unchanged pages otherwise.
html: venv
	@mkdir -p $(BOOK)/_build
	@src=$$({ find theory sims musicgan -name '*.py' -print0; find reference -type f -print0; \
	   find benchmarks -name '*.json' -print0; } | sort -z | xargs -0 cat | cat - requirements.txt | sha256sum | cut -c1-16); \
	 if [ "$$(cat $(BOOK)/_build/.sources.sha 2>/dev/null)" != "$$src" ]; then \
	   [ -d $(BOOK)/_build/.jupyter_cache ] && echo "package sources changed: clearing the execution cache" || true; \
	   rm -rf $(BOOK)/_build/.jupyter_cache $(BOOK)/_build/.doctrees; echo "$$src" > $(BOOK)/_build/.sources.sha; fi
	@cfg=$$(cat $(BOOK)/_config.yml $(BOOK)/_toc.yml | sha256sum | cut -c1-16); \
	 if [ "$$(cat $(BOOK)/_build/.config.sha 2>/dev/null)" != "$$cfg" ]; then \
	   rm -rf $(BOOK)/_build/.doctrees; echo "$$cfg" > $(BOOK)/_build/.config.sha; fi
	$(JB) build $(BOOK) $(JB_FLAGS)

pdf: venv
	@if ! command -v $(LATEXMK) >/dev/null || ! command -v $(PDFLATEX) >/dev/null; then \
	  echo "PDF skipped: LaTeX is missing. Install it with: sudo apt-get install $(LATEX_DEBS)"; \
	  echo "The HTML book is in $(BOOK)/_build/html/index.html"; exit 2; fi
	$(JB) build $(BOOK) --builder pdflatex $(JB_FLAGS)
	@test -s $(BOOK)/_build/latex/book.pdf && echo "PDF: $(BOOK)/_build/latex/book.pdf"

test: venv
	$(PY) -m pytest

# Every chapter's executed notebook (the run that rendered the book) and a README in one folder.
NOTEBOOKS_OUT ?= $(BOOK)/_build/notebooks
notebooks: venv
	$(PY) -m bookkit.notebooks --build $(BOOK)/_build --out $(NOTEBOOKS_OUT)

# JupyterLab on this machine only, chapters opening as notebooks through jupytext (the MyST pages are the
# source; saving writes them back), kernels starting in book/ as in the build, the repository importable.
LAB_PORT ?= 8888
LAB_FLAGS ?=
LAB_ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--ServerApp.allow_root=True,)  # CI and containers run as root
lab: venv
	JUPYTER_CONFIG_PATH=$(CURDIR)/bookkit/jupyter$(if $(JUPYTER_CONFIG_PATH),:$(JUPYTER_CONFIG_PATH),) \
	  $(VENV)/bin/jupyter lab --ServerApp.root_dir=$(CURDIR) --ServerApp.ip=127.0.0.1 \
	  --ServerApp.port=$(LAB_PORT) --LabApp.default_url=/lab/tree/book/optimal_discriminator.md \
	  $(LAB_ROOT_FLAG) $(LAB_FLAGS)

bench: venv
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b; done

clean-cache:
	rm -rf $(BOOK)/_build/.jupyter_cache $(BOOK)/_build/.doctrees $(BOOK)/_build/.sources.sha

clean:
	rm -rf $(BOOK)/_build

# The music GAN's reference runs (committed; the music_gan page samples from them): each generator family
# (conv, lstm) with MUSIC_SEEDS seeds at the `cpu` preset, one CPU core per run, MUSIC_JOBS runs at a time, then
# the note transcriber of the representation (once) and the evaluation report with 30-s pieces. Each run takes
# 16-24 CPU minutes (3000 steps): about 1.5 h for six runs on 2 idle cores, 2-3 h on a shared machine. MUSIC_FAMILIES /
# MUSIC_SEEDS retrain some runs and keep the others; the report covers all that exist. MUSIC_SET applies to every
# run; MUSIC_SET_<family> to one family. Every run keeps generator.pt, its logs and samples; the full training
# state (last checkpoint, 5-7 MB with the optimiser moments, what --resume continues from) is kept only for the
# seeds in MUSIC_KEEP_STATE, so that six runs fit the 50 MB budget of reference/.
MUSIC_REF ?= reference/music_gan
MUSIC_MEL ?= pitch256
MUSIC_FAMILIES ?= conv lstm
MUSIC_SEEDS ?= 0 1 2
MUSIC_STEPS ?= 3000
MUSIC_JOBS ?= 2
MUSIC_KEEP_STATE ?= 0
MUSIC_SET ?=
MUSIC_SET_conv ?=
MUSIC_SET_lstm ?=
.PHONY: music decoder-pilots
# The decoder pilots of the music GAN chapter (representation x Griffin-Lim iterations; a few minutes on one
# core; the General MIDI rows need fluidsynth and a soundfont).
decoder-pilots: venv
	OMP_NUM_THREADS=1 $(PY) -m musicgan.decoding --out $(MUSIC_REF)/decoder-pilots.json

music: venv
	mkdir -p $(MUSIC_REF)
	$(PY) -c "from musicgan.dataset import ensure_default_dataset as e; from musicgan.mel import MEL_PRESETS as P; \
	  print(e(P['$(MUSIC_MEL)'], progress=True))"
	for s in $(MUSIC_SEEDS); do for g in $(MUSIC_FAMILIES); do echo "$$g $$s"; done; done | \
	  xargs -P $(MUSIC_JOBS) -L 1 bash -c 'g=$$0; s=$$1; out=$(MUSIC_REF)/$$g-s$$s; rm -rf $$out $$out.log; \
	    case $$g in conv) extra="$(MUSIC_SET_conv)";; lstm) extra="$(MUSIC_SET_lstm)";; *) extra="";; esac; \
	    OMP_NUM_THREADS=1 $(PY) -m musicgan train --config cpu --set model.generator=$$g --set train.seed=$$s \
	      --set train.steps=$(MUSIC_STEPS) --set data.mel=$(MUSIC_MEL) --set train.progress=false $$extra $(MUSIC_SET) --out $$out > $$out.log 2>&1 \
	    && ls $$out/checkpoints/*.pt | head -n -1 | xargs -r rm \
	    && case " $(MUSIC_KEEP_STATE) " in *" $$s "*) ;; *) rm -rf $$out/checkpoints;; esac'
	test -f $(MUSIC_REF)/transcriber-$(MUSIC_MEL).pt || OMP_NUM_THREADS=1 $(PY) -m musicgan transcriber \
	  --mel $(MUSIC_MEL) --controls --out $(MUSIC_REF)/transcriber-$(MUSIC_MEL).pt
	runs=$$(for d in $(MUSIC_REF)/*-s[0-9]*/generator.pt; do d=$${d%/generator.pt}; n=$${d##*/}; \
	  echo "--run $${n%-s*}/$${n##*-s}=$$d"; done); \
	OMP_NUM_THREADS=1 $(PY) -m musicgan evaluate $$runs --transcriber $(MUSIC_REF)/transcriber-$(MUSIC_MEL).pt \
	  --long-seconds 30 --long-pieces 4 --out $(MUSIC_REF)/report.json
	du -sh $(MUSIC_REF)
