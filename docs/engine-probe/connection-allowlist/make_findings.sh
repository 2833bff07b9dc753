#!/bin/sh
# FINDINGS.md = the hand-written FINDINGS_head.md + run1's tables (sections 1-9) + the run comparison.
cd "$(dirname "$0")"
{
  cat FINDINGS_head.md
  echo
  echo "## Stability (run1 vs run2, \`compare.py\`)"
  echo
  [ -f FINDINGS_stability.md ] && cat FINDINGS_stability.md && echo
  echo '```'
  cat results/compare.txt
  echo '```'
  echo
  XLATE_GRIDS=0 python3 report.py results/run1 | sed '1,3d; s/^## /## Table /'
} > FINDINGS.md
