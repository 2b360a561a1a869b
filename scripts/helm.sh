#!/usr/bin/env bash
# Prints the path of the helm binary (built from source when the cache lacks it).
exec "$(dirname "$0")/go-tool.sh" helm
