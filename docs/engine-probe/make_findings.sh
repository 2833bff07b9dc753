#!/bin/sh
# Assemble FINDINGS.md from the hand-written parts and the generated tables.
cd "$(dirname "$0")"
python3 report.py > ${RESULTS_DIR:-results}/tables.md
{
  cat FINDINGS_head.md
  echo
  cat FINDINGS_setup.md
  echo
  [ -f FINDINGS_stability.md ] && cat FINDINGS_stability.md && echo
  echo "## Tables (verdict per engine; '≠spec' = differs from oracle.py)"
  cat ${RESULTS_DIR:-results}/tables.md
} > FINDINGS.md
