#!/bin/sh
echo "running as $(id -un) in $(pwd)"
exec "$@"
