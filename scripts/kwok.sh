#!/usr/bin/env bash
# Prints the path of the kwok binary (simulated nodes; built from source when the cache lacks it).
exec "$(dirname "$0")/go-tool.sh" kwok
