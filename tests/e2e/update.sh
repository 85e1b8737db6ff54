#!/usr/bin/env bash
# update.sh BUILD_DIR: `orchctl service update` against the real orchd on
# one node with the process runtime: --replicas changes the count, --env-add
# shows in inspect, bad flag values change nothing (same Version.Index, same
# tasks), the --rebalance switches land in the specs, and --force replaces
# every task (new IDs, the old ones shut down) one at a time (parallelism 1:
# `service ps` sampled while it runs never shows more than one task down),
# ending with UpdateStatus "completed". The --force part needs the
# orchestrator's rolling updater.
set -uo pipefail
build=$1
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
command -v jq >/dev/null || { echo "SKIP: no jq"; exit 77; }

data=$(mktemp -d /tmp/orchd-e2e-update-XXXXXX)
E2E_DIRS+=("$data")
uniq=$((300000 + $$ % 100000))
orchctl() { "$build/bin/orchctl" -H "unix://$SOCK" "$@"; }
live_count() { pgrep -f -x "/bin/sleep $uniq" | wc -l; }
count_is() { [ "$(live_count)" = "$1" ]; }
E2E_CLEANUPS+=('pkill -9 -f -x "/bin/sleep '"$uniq"'"')

e2e_start_orchd "$build" "$data"
E2E_CLEANUPS+=('kill -0 $ORCHD_PID 2>/dev/null && { orchctl service rm web cfg >/dev/null 2>&1; for _ in $(seq 100); do [ "$(api /tasks)" = "[]" ] && break; sleep 0.1; done; }')
orchctl swarm init --advertise-addr 127.0.0.1 >/dev/null || e2e_fail "swarm init failed"

# Running tasks of web (desired running), as sorted IDs.
running_ids() {
  api /tasks | jq -c '[.[] | select(.ServiceName == "web" and .DesiredState == "running"
                        and .Status.State == "running") | .ID] | sort'
}
version_of() { api "/services/$1" | jq -r '.Version.Index'; }

e2e_note "create web: 3 replicas, parallelism 1, monitor 2s"
orchctl service create --name web --replicas 3 --runtime process --restart-delay 1s \
  --update-parallelism 1 --update-monitor 2s /bin/sleep "$uniq" >/dev/null ||
  e2e_fail "service create failed"
e2e_wait 60 "3 tasks running" running_is web 3
orchctl service inspect --pretty web >"$data/pretty"
grep -q "^ Monitoring Period: 2s$" "$data/pretty" || e2e_fail "inspect --pretty lacks the UpdateConfig: $(cat "$data/pretty")"

e2e_note "update --replicas 4: the count changes, the update converges"
timeout 120 "$build/bin/orchctl" -H "unix://$SOCK" service update --replicas 4 web >"$data/out" 2>&1 ||
  e2e_fail "update --replicas failed: $(cat "$data/out")"
grep -q "verify: Service converged" "$data/out" || e2e_fail "no convergence shown: $(cat "$data/out")"
[ "$(api /services/web | jq '.Spec.Mode.Replicated.Replicas')" = 4 ] || e2e_fail "Replicas is not 4"
running_is web 4 || e2e_fail "4 tasks are not running after the update converged"
e2e_wait 30 "4 live processes" count_is 4

e2e_note "update --env-add (another service): inspect shows it"
orchctl service create --detach --name cfg --runtime process /bin/sleep "$uniq" >/dev/null ||
  e2e_fail "create cfg failed"
orchctl service update -d --env-add GREETING=hello --env-add LEVEL=2 cfg >/dev/null ||
  e2e_fail "update --env-add failed"
orchctl service update -d --env-rm LEVEL --label-add team=ops cfg >/dev/null ||
  e2e_fail "update --env-rm/--label-add failed"
[ "$(orchctl service inspect cfg | jq -c '.[0].Spec.TaskTemplate.ContainerSpec.Env')" = '["GREETING=hello"]' ] ||
  e2e_fail "inspect does not show Env [GREETING=hello]: $(orchctl service inspect cfg | jq -c '.[0].Spec.TaskTemplate')"
orchctl service inspect --pretty cfg | grep -q "^ Env:.*GREETING=hello" || e2e_fail "inspect --pretty lacks the env"
[ "$(orchctl service inspect cfg | jq -r '.[0].Spec.Labels.team')" = ops ] || e2e_fail "label team=ops missing"
orchctl service rm cfg >/dev/null || e2e_fail "service rm cfg failed"

e2e_note "bad flag values change nothing"
before_version=$(version_of web)
before_tasks=$(running_ids)
for args in "--update-parallelism -1" "--replicas abc" "--update-failure-action explode" \
            "--update-max-failure-ratio 2" "--update-order sideways" "--update-delay 5parsecs" \
            "--rebalance=maybe" "--env-rm A=1" "--no-such-flag"; do
  # shellcheck disable=SC2086
  if orchctl service update $args web >/dev/null 2>"$data/err"; then
    e2e_fail "service update $args was accepted"
  fi
  flag=${args%% *}; flag=${flag%%=*}
  grep -q -- "$flag" "$data/err" || e2e_fail "the error of '$args' does not name $flag: $(cat "$data/err")"
done
[ "$(version_of web)" = "$before_version" ] || e2e_fail "a refused update changed Version.Index ($before_version -> $(version_of web))"
[ "$(running_ids)" = "$before_tasks" ] || e2e_fail "a refused update changed the tasks"

e2e_note "rebalance switches"
orchctl swarm update --rebalance=true >/dev/null || e2e_fail "swarm update --rebalance=true failed"
[ "$(api /swarm | jq '.Spec.Orchestration.OrchRebalance')" = true ] || e2e_fail "OrchRebalance not true in the swarm spec"
orchctl swarm update --rebalance=false >/dev/null || e2e_fail "swarm update --rebalance=false failed"
[ "$(api /swarm | jq '.Spec.Orchestration.OrchRebalance')" = false ] || e2e_fail "OrchRebalance not false in the swarm spec"
orchctl service update -d --rebalance web >/dev/null || e2e_fail "service update --rebalance failed"
[ "$(api /services/web | jq '.Spec.OrchRebalance')" = true ] || e2e_fail "Spec.OrchRebalance not true"
[ "$(running_ids)" = "$before_tasks" ] || e2e_fail "--rebalance (no task change) replaced tasks"

e2e_note "update without a change: posted, converges at once"
version=$(version_of web)
timeout 60 "$build/bin/orchctl" -H "unix://$SOCK" service update web >"$data/out" 2>&1 ||
  e2e_fail "update without a change failed: $(cat "$data/out")"
grep -q "verify: Service converged" "$data/out" || e2e_fail "no convergence shown: $(cat "$data/out")"
grep -q "Waiting" "$data/out" && e2e_fail "an update without a change waited: $(cat "$data/out")"
[ "$(version_of web)" != "$version" ] || e2e_fail "an update without a change was not posted"
[ "$(running_ids)" = "$before_tasks" ] || e2e_fail "an update without a change replaced tasks"

e2e_note "update --force: every task replaced, never more than 1 down"
old_ids=$(running_ids)
[ "$(jq length <<<"$old_ids")" = 4 ] || e2e_fail "expected 4 running tasks before --force, got $old_ids"
# --update-delay 1s spaces the replacements so that the sampling sees them.
"$build/bin/orchctl" -H "unix://$SOCK" service update --force --update-delay 1s web \
  >"$data/force.out" 2>&1 &
force_pid=$!
E2E_PIDS+=("$force_pid")
samples=0 max_down=0 deadline=$((SECONDS + 180))
while kill -0 "$force_pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do
  running=$(orchctl service ps -f desired-state=running web 2>/dev/null | grep -cE "Running +Running")
  down=$((4 - running))
  [ $down -gt $max_down ] && max_down=$down
  samples=$((samples + 1))
  sleep 0.05
done
kill -0 "$force_pid" 2>/dev/null && e2e_fail "update --force still running after 180s: $(cat "$data/force.out")"
wait "$force_pid"; force_rc=$?
e2e_note "sampled service ps $samples times, at most $max_down task(s) down"
cat "$data/force.out"
[ $force_rc -eq 0 ] || e2e_fail "update --force exited $force_rc (does the orchestrator's rolling updater replace tasks yet?): $(tail -n 5 "$data/force.out")"
grep -q "verify: Service converged" "$data/force.out" || e2e_fail "no convergence shown: $(cat "$data/force.out")"
[ $max_down -le 1 ] || e2e_fail "parallelism 1, yet $max_down tasks were down at once"
[ "$(api /services/web | jq '.Spec.TaskTemplate.ForceUpdate')" = 1 ] || e2e_fail "ForceUpdate is not 1"
e2e_wait 30 "4 running" running_is web 4
new_ids=$(running_ids)
[ "$(jq -n --argjson a "$old_ids" --argjson b "$new_ids" '$a - ($a - $b) | length')" = 0 ] ||
  e2e_fail "tasks kept across --force: old $old_ids, new $new_ids"
old_shutdown() {
  api /tasks | jq -e --argjson old "$old_ids" \
    '[.[] | select(.ID as $id | $old | any(. == $id)) | select(.DesiredState != "running" and .Status.State == "shutdown")] | length == 4'
}
e2e_wait 30 "the 4 old tasks shut down" old_shutdown
e2e_wait 30 "UpdateStatus completed" bash -c "curl -sf --unix-socket $SOCK http://orchd/services/web | jq -e '.UpdateStatus.State == \"completed\"'"
orchctl service inspect --pretty web | grep -q "^ State:.*completed" || e2e_fail "inspect --pretty does not show the UpdateStatus"
e2e_wait 30 "4 live processes" count_is 4

e2e_note "remove"
orchctl service rm web >/dev/null || e2e_fail "service rm failed"
e2e_wait 60 "all tasks gone" bash -c "[ \"\$(curl -sf --unix-socket $SOCK http://orchd/tasks)\" = '[]' ]"
e2e_wait 30 "no live processes" count_is 0
e2e_stop_orchd
echo "PASS: service update"
