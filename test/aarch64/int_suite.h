/* test/aarch64/int_suite.h - the tables kcc_aarch64_int_suite_gen writes (int_suite_table.c). */
#ifndef KCC_AARCH64_INT_SUITE_H
#define KCC_AARCH64_INT_SUITE_H
typedef struct {
  unsigned elem_bytes; /* 1, 4 or 8: int8_t, int32_t, int64_t */
  unsigned long count;
  const void *data;
} int_suite_array;
typedef struct {
  const char *label;              /* full-range, one-signed */
  unsigned n_inputs, n_outputs;
  const int_suite_array *arrays;  /* inputs, then the interpreter's outputs */
} int_suite_data;
typedef struct {
  const char *name;
  unsigned n_sets;
  const int_suite_data *sets;
} int_suite_kernel;
typedef struct {
  const char *name;  /* function in int_suite.o */
  const char *what;  /* default, hand, random (schedules in int_suite.txt) */
  unsigned kernel;   /* index into int_suite_kernels */
  void *fn;
} int_suite_variant;
extern const char *const int_suite_target;
extern const unsigned int_suite_num_kernels, int_suite_num_variants;
extern const int_suite_kernel int_suite_kernels[];
extern const int_suite_variant int_suite_variants[];
#endif
