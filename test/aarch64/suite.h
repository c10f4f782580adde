/* test/aarch64/suite.h - the table kcc_aarch64_suite_gen writes (suite_table.c). */
#ifndef KCC_AARCH64_SUITE_H
#define KCC_AARCH64_SUITE_H
typedef struct {
  const char *name;   /* function in suite.o */
  const char *what;   /* default, handN, randomN (schedules in suite.txt) */
  unsigned kernel;    /* KCCD block index in suite.kccd */
  void *fn;
  unsigned nargs;     /* inputs then outputs */
} suite_variant;
extern const char *const suite_target;
extern const unsigned suite_num_kernels, suite_num_variants;
extern const suite_variant suite_variants[];
#endif
