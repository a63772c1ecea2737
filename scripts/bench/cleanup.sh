#!/usr/bin/env bash
# Remove every Docker object labelled with a lab name (benchmark teardown, not timed).
name=$1
f="label=playground.cluster=$name"
ids=$(docker ps -aq --filter "$f"); [ -z "$ids" ] || docker rm -fv $ids >/dev/null
ids=$(docker network ls -q --filter "$f"); [ -z "$ids" ] || docker network rm $ids >/dev/null
ids=$(docker volume ls -q --filter "$f"); [ -z "$ids" ] || docker volume rm -f $ids >/dev/null
true
