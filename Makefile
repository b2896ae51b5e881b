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

bench:
	@bash scripts/install-deps.sh
	npx tsx broker/bench/protocol-bench.ts
	npx tsx broker/bench/throughput.ts

e2e:
	@bash scripts/install-deps.sh
	npm test -- e2e
