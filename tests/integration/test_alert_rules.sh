#!/usr/bin/env bash
# test_alert_rules: deploy/prometheus is what the runbook's alarms are.
# promtool checks the rules and runs their unit tests (each alarm fires on
# the series that should raise it, not on a healthy one), and every metric a
# rule names must be one the daemons export: a misspelt name would never
# fire. Skips (77) without promtool (Debian's prometheus package).
set -euo pipefail
src=${SHUTTLE_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
dir=$src/deploy/prometheus
promtool=${SHUTTLE_PROMTOOL:-$(command -v promtool || true)}
if [ -z "$promtool" ]; then
  echo "test_alert_rules: SKIP: no promtool (apt-get install prometheus, or SHUTTLE_WITH_LINT=1 scripts/setup.sh)"
  exit 77
fi
cd "$dir"
"$promtool" check rules shuttle-alerts.yml
"$promtool" test rules shuttle-alerts.test.yml

# Every shuttle_* metric in an expression, as the C code registers it.
names=$(grep -E '^\s+expr:|^\s+\(|^\s+and ' shuttle-alerts.yml |
  grep -oE 'shuttle_[a-z_]+' | sort -u)
[ -n "$names" ] || { echo "test_alert_rules: no metric found in the rules" >&2; exit 1; }
bad=0
for n in $names; do
  if ! grep -rqF "\"$n\"" "$src/backend" "$src/common"; then
    echo "test_alert_rules: $n is in a rule but no daemon exports it" >&2
    bad=1
  fi
done
# And every alarm has its entry in the runbook.
for a in $(grep -oE 'alert: [A-Za-z]+' shuttle-alerts.yml | cut -d' ' -f2); do
  if ! grep -q "^| \`$a\`" "$src/deploy/RUNBOOK.md"; then
    echo "test_alert_rules: alarm $a has no row in deploy/RUNBOOK.md" >&2
    bad=1
  fi
done
[ "$bad" -eq 0 ]
echo "test_alert_rules: $(echo "$names" | wc -l) metrics, all exported; every alarm in the runbook"
