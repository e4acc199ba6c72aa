.PHONY: test serve bench
# The whole suite, on SQLite and on PostgreSQL (see scripts/test.sh).
test:
	./scripts/test.sh
serve:
	cargo run --release -- serve
bench:
	./bench/run.sh
