# The two commands of README.md. Both set up whatever is missing first (scripts/bootstrap.sh).
.PHONY: run test bench

run:
	@bash scripts/bootstrap.sh run
	@.venv/bin/desk $(ARGS)

test:
	@bash scripts/bootstrap.sh test
	@.venv/bin/python -m pytest $(PYTEST_ARGS)

bench:
	@bash scripts/bootstrap.sh bench
	@# every benchmark; the modules they share (a model, the throwaway PostgreSQL cluster) are not run
	@for b in bench/*.py; do case $$b in *_model.py|*/pg_cluster.py) continue;; esac; .venv/bin/python $$b || exit 1; done
