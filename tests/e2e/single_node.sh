#!/usr/bin/env bash
# single_node.sh RUNTIME BUILD_DIR: issue 3's acceptance on one node, for the
# process runtime or the docker runtime: create 3 replicas and see them run
# (in `service ps` and in the runtime itself), kill one by hand and watch it
# replaced, scale 3 -> 10 -> 2, restart orchd and see the same tasks adopted
# (not duplicated), global mode, bad input refused without a change, an
# unknown image/program rejected with the reason, remove.
set -uo pipefail
runtime=$1 build=$2
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"

if [ "$runtime" = docker ] &&
   ! curl -sf --max-time 3 --unix-socket /var/run/docker.sock http://d/_ping >/dev/null; then
  [ "${ORCHD_REQUIRE_DOCKER:-0}" = 1 ] && e2e_fail "dockerd is not reachable and ORCHD_REQUIRE_DOCKER=1"
  echo "SKIP: dockerd not reachable"; exit 77
fi

data=$(mktemp -d /tmp/orchd-e2e-XXXXXX)
E2E_DIRS+=("$data")
uniq=$((200000 + $$ % 100000))
orchctl() { "$build/bin/orchctl" -H "unix://$SOCK" "$@"; }

if [ "$runtime" = process ]; then
  image=(/bin/sleep "$uniq")
  bad_image=/no/such/program
  live_count() { pgrep -f -x "/bin/sleep $uniq" | wc -l; }
  kill_one() { kill -9 "$(pgrep -f -x "/bin/sleep $uniq" | head -n 1)"; }
  E2E_CLEANUPS+=('pkill -9 -f -x "/bin/sleep '"$uniq"'"')
else
  image=(busybox:local sleep "$uniq")
  bad_image=127.0.0.1:9/no-such-image:v0  # loopback registry: no traffic leaves the machine
  live_count() { docker ps -q --filter "label=orchd.node.id=$node_id" --filter "label=orchd.service.name=web" | wc -l; }
  kill_one() { docker kill "$(docker ps -q --filter "label=orchd.node.id=$node_id" --filter "label=orchd.service.name=web" | head -n 1)" >/dev/null; }
  E2E_CLEANUPS+=('docker ps -aq --filter "label=orchd.node.id=$node_id" | xargs -r docker rm -f >/dev/null')
fi
count_is() { [ "$(live_count)" = "$1" ]; }

e2e_start_orchd "$build" "$data"
E2E_CLEANUPS+=('kill -0 $ORCHD_PID 2>/dev/null && { orchctl service rm web glob talk norun huge >/dev/null 2>&1; for _ in $(seq 100); do [ "$(api /tasks)" = "[]" ] && break; sleep 0.1; done; }')

e2e_note "swarm init"
node_id=$(orchctl swarm init --advertise-addr 127.0.0.1 | grep -o '[0-9a-z]\{25\}' | head -n 1)
[ -n "$node_id" ] || e2e_fail "swarm init printed no node id"
orchctl info | grep -q "Swarm: active" || e2e_fail "info does not say Swarm: active"

e2e_note "create 3 replicas ($runtime)"
orchctl service create --name web --replicas 3 --runtime "$runtime" --restart-delay 1s \
  "${image[@]}" || e2e_fail "service create failed"
e2e_wait 60 "3 tasks running" running_is web 3
e2e_wait 30 "3 live ${runtime} tasks" count_is 3
orchctl service ls | grep -q "web .*3/3" || e2e_fail "service ls does not show web 3/3"
[ "$(orchctl service ps web | grep -c Running)" = 3 ] || e2e_fail "service ps does not show 3 Running"

e2e_note "kill one task by hand: replaced"
kill_one
e2e_wait 30 "a failed task in the history" bash -c "[ \"\$(curl -sf --unix-socket $SOCK http://orchd/tasks | jq '[.[] | select(.Status.State == \"failed\")] | length')\" -ge 1 ]"
e2e_wait 60 "3 running again" running_is web 3
e2e_wait 30 "3 live again" count_is 3

e2e_note "scale 3 -> 10 -> 2"
orchctl service scale web=10 >/dev/null || e2e_fail "scale to 10 failed"
e2e_wait 120 "10 running" running_is web 10
e2e_wait 30 "10 live" count_is 10
orchctl service scale web=2 >/dev/null || e2e_fail "scale to 2 failed"
e2e_wait 60 "2 running" running_is web 2
e2e_wait 60 "2 live" count_is 2

e2e_note "restart orchd: same tasks adopted"
before=$(api /tasks | jq -c '[.[] | select(.DesiredState == "running") | .ID] | sort')
e2e_stop_orchd
count_is 2 || e2e_fail "tasks did not survive orchd's stop ($(live_count) live)"
e2e_start_orchd "$build" "$data"
e2e_wait 30 "2 running after restart" running_is web 2
after=$(api /tasks | jq -c '[.[] | select(.DesiredState == "running") | .ID] | sort')
[ "$before" = "$after" ] || e2e_fail "tasks changed across the restart: $before -> $after"
count_is 2 || e2e_fail "tasks duplicated after restart ($(live_count) live)"

e2e_note "bad input changes nothing"
for args in "--replicas -1" "--replicas abc" "--mode sharded" "--limit-memory 12zz" "--restart-delay 5parsecs"; do
  # shellcheck disable=SC2086
  if orchctl service create --name bad $args "${image[@]}" >/dev/null 2>"$data/err"; then
    e2e_fail "service create $args was accepted"
  fi
  [ -s "$data/err" ] || e2e_fail "service create $args failed without a message"
done
orchctl service create --name web "${image[@]}" >/dev/null 2>"$data/err" && e2e_fail "duplicate name accepted"
grep -qi "exists" "$data/err" || e2e_fail "duplicate name error does not say so: $(cat "$data/err")"
orchctl service scale nosuch=2 >/dev/null 2>"$data/err" && e2e_fail "scale of an unknown service accepted"
[ "$(api /services | jq length)" = 1 ] || e2e_fail "bad input changed the services"
running_is web 2 || e2e_fail "bad input changed the tasks"

e2e_note "the API refuses bodies that are not JSON or have wrong types"
post_create() {
  curl -s -o "$data/body" -w '%{http_code}' --max-time 10 --unix-socket "$SOCK" -X POST \
    -H 'Content-Type: application/json' -d "$1" http://orchd/v1.41/services/create
}
[ "$(post_create 'not json')" = 400 ] || e2e_fail "a body that is not JSON was not refused with 400"
grep -q "invalid JSON" "$data/body" || e2e_fail "no 'invalid JSON' message: $(cat "$data/body")"
[ "$(post_create '{"Name":"typed","Mode":{"Replicated":{"Replicas":"three"}},"TaskTemplate":{"ContainerSpec":{"Image":"x"}}}')" = 400 ] ||
  e2e_fail "Replicas as a string was not refused with 400"
grep -q "Replicas" "$data/body" || e2e_fail "the error does not name Replicas: $(cat "$data/body")"
[ "$(api /services | jq length)" = 1 ] || e2e_fail "a refused body changed the services"

e2e_note "a runtime no node offers: the task stays pending with the reason"
orchctl service create --detach --name norun --runtime nosuch /bin/true >/dev/null ||
  e2e_fail "create with an unknown runtime failed at the API"
e2e_wait 30 "pending with a reason naming the runtime" bash -c "curl -sf --max-time 5 --unix-socket $SOCK http://orchd/tasks | jq -e '[.[] | select(.ServiceName == \"norun\" and .Status.State == \"pending\" and (.Status.Err | test(\"nosuch\")))] | length == 1'"
orchctl service ps norun | tail -n 1
orchctl service rm norun >/dev/null

e2e_note "a task that fits nowhere stays pending with the reason"
orchctl service create --detach --name huge --reserve-memory 100000g --runtime "$runtime" "${image[@]}" >/dev/null ||
  e2e_fail "create with a huge reservation failed at the API"
e2e_wait 30 "pending: insufficient memory" bash -c "curl -sf --max-time 5 --unix-socket $SOCK http://orchd/tasks | jq -e '[.[] | select(.ServiceName == \"huge\" and .Status.State == \"pending\" and (.Status.Err | test(\"insufficient memory\")))] | length == 1'"
api /tasks | jq -r '.[] | select(.ServiceName == "huge") | .Status.Err'
orchctl service rm huge >/dev/null

e2e_note "service logs"
if [ "$runtime" = process ]; then talk=(/bin/sh -c "echo hello-$uniq; exec sleep $uniq");
else talk=(busybox:local sh -c "echo hello-$uniq; exec sleep $uniq"); fi
orchctl service create --detach --name talk --runtime "$runtime" "${talk[@]}" >/dev/null ||
  e2e_fail "create of the talking service failed"
e2e_wait 60 "the task's output in service logs" bash -c "'$build/bin/orchctl' -H 'unix://$SOCK' service logs talk | grep -q hello-$uniq"
orchctl service logs talk
orchctl service rm talk >/dev/null

e2e_note "unknown image is rejected with the reason"
orchctl service create --detach --name glob --runtime "$runtime" --restart-condition none "$bad_image" >/dev/null ||
  e2e_fail "create of a service with a bad image failed at the API"
e2e_wait 60 "task rejected" bash -c "curl -sf --unix-socket $SOCK http://orchd/tasks | jq -e '[.[] | select(.ServiceName == \"glob\" and .Status.State == \"rejected\" and (.Status.Err | length) > 0)] | length >= 1'"
api /tasks | jq -r '.[] | select(.ServiceName == "glob") | .Status.Err' | head -n 1
orchctl service rm glob >/dev/null || e2e_fail "service rm glob failed"

e2e_note "global mode"
orchctl service create --name glob --mode global --runtime "$runtime" "${image[@]}" >/dev/null ||
  e2e_fail "global service create failed"
e2e_wait 60 "global task running" running_is glob 1

e2e_note "remove"
orchctl service rm web glob >/dev/null || e2e_fail "service rm failed"
e2e_wait 60 "all tasks gone" bash -c "[ \"\$(curl -sf --unix-socket $SOCK http://orchd/tasks)\" = '[]' ]"
if [ "$runtime" = process ]; then e2e_wait 30 "no live processes" count_is 0; else
  e2e_wait 30 "no containers" bash -c "[ -z \"\$(docker ps -aq --filter label=orchd.node.id=$node_id)\" ]"; fi
e2e_note "orchd stops cleanly"
e2e_stop_orchd
echo "PASS: single node, $runtime runtime"
