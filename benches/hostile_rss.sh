#!/usr/bin/env bash
# Peak memory on hostile reports: for each shape that used to grow memory with its input
# (issue 12), generates it at two sizes and measures flakehound's peak RSS for `parse` and
# `ingest` (fresh store). Bounded means the two sizes cost the same: the "MB RSS per MB input"
# column (growth between the sizes divided by the input growth) should be ~0. The baseline is
# the same commands on a one-test report, in the same run.
#
#   benches/hostile_rss.sh                 # sizes 20 and 80 MB
#   SIZES="50 200" benches/hostile_rss.sh  # other sizes
#   KINDS="junit-system-out tap-line" benches/hostile_rss.sh
#   BASELINE=/tmp/old/flakehound benches/hostile_rss.sh   # also measure `parse` with another
#                                                          # binary (e.g. a release build of an
#                                                          # older commit), same inputs, same run
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
source "$root/benches/lib.sh"
release_flakehound
scratch_dir
read -r small big <<<"${SIZES:-20 80}"
kinds="${KINDS:-junit-system-out junit-cdata junit-message-attr junit-properties junit-nested junit-many-cases trx-results-first trx-defs-first jest-assertions jest-message dart-long-line mocha-many gojson-output tap-line libtest-stdout ctrf-message}"

# peak RSS (MB) and wall seconds of a command; its exit status is kept in $status.
measure() {
  set +e
  /usr/bin/time -o "$work/time" -f '%M %e' "$@" >/dev/null 2>&1
  status=$?
  set -e
  read -r kb secs < <(tail -1 "$work/time")
  rss=$((kb / 1024))
  wall=$secs
}

printf '<testsuite name="s"><testcase classname="c" name="t"/></testsuite>\n' >"$work/tiny.xml"
measure "$fh" parse "$work/tiny.xml"; base_parse=$rss
measure "$fh" --db "$work/base.db" ingest "$work/tiny.xml"; base_ingest=$rss
echo "baseline (one-test report): parse ${base_parse} MB, ingest ${base_ingest} MB peak RSS"
echo
printf '%-20s %8s %10s %11s %9s %10s %11s %9s\n' kind "input" "parse RSS" "ingest RSS" "wall s" "input" "parse RSS" "ingest RSS"
for kind in $kinds; do
  row=()
  declare -A p i
  for size in $small $big; do
    f="$work/$kind-$size.x"
    python3 "$root/benches/hostile_gen.py" "$kind" "$size" "$f"
    mb=$(( $(stat -c %s "$f") / 1000000 ))
    measure "$fh" parse "$f"; p[$size]=$rss
    rm -f "$work/h.db"
    measure "$fh" --db "$work/h.db" ingest "$f"; i[$size]=$rss; w=$wall
    row+=("$mb" "${p[$size]}" "${i[$size]}" "$w")
    rm -f "$f"
  done
  printf '%-20s %6s MB %7s MB %8s MB %9s %7s MB %7s MB %8s MB  parse %+.2f, ingest %+.2f MB RSS per MB input\n' \
    "$kind" "${row[0]}" "${row[1]}" "${row[2]}" "${row[3]}" "${row[4]}" "${row[5]}" "${row[6]}" \
    "$(echo "(${p[$big]} - ${p[$small]}) / ($big - $small)" | bc -l)" \
    "$(echo "(${i[$big]} - ${i[$small]}) / ($big - $small)" | bc -l)"
  if [ -n "${BASELINE:-}" ]; then
    for size in $small $big; do
      f="$work/$kind-$size.x"
      python3 "$root/benches/hostile_gen.py" "$kind" "$size" "$f"
      measure "$BASELINE" parse "$f"; bp=$rss; bw=$wall
      measure "$fh" parse "$f"; np=$rss; nw=$wall
      printf '  %-18s %6s MB input: parse peak RSS baseline %5s MB (%s s), this build %5s MB (%s s)\n' \
        "" "$(( $(stat -c %s "$f") / 1000000 ))" "$bp" "$bw" "$np" "$nw"
      rm -f "$f"
    done
  fi
  unset p i
done
