// faults.h: the library's test-only fault injection (pgpq_inject_faults, pgpq_inject_encode_faults,
// pgpq_inject_nv_faults): a counter of calls still to fail, which each source keeps as process
// state of its own and consumes with take_fault.
#ifndef PGPQ_FAULTS_H
#define PGPQ_FAULTS_H

// take_fault consumes one injected fault from *n, if any is left.
static inline bool take_fault(int* n) {
  int v = __atomic_load_n(n, __ATOMIC_SEQ_CST);
  while (v > 0) {
    if (__atomic_compare_exchange_n(n, &v, v - 1, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) return true;
  }
  return false;
}

#endif
