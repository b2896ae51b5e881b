# The verbs a person types. `make run` starts a single-node broker on 127.0.0.1:9092 with data in
# ./data; `make test` installs what the tests need and runs every test.
.PHONY: run build test lint format bench e2e generate deps

run:
	@bash scripts/install-deps.sh --npm-only
	npm start

build:
	@bash scripts/install-deps.sh --npm-only
	npm run build

test:
	@bash scripts/install-deps.sh
	npm test

lint:
	@bash scripts/install-deps.sh --npm-only
	npm run lint

format:
	npm run format

generate:
	npm run generate

# `make bench BENCH_ARGS=--quick` for the short run, `BENCH_ARGS='--only latency'` for one scenario.
bench:
	@bash scripts/install-deps.sh
	npx tsx broker/bench/run.ts $(BENCH_ARGS)

e2e:
	@bash scripts/install-deps.sh
	npm test -- e2e
