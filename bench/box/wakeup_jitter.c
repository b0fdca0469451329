/* The idle box's wake-up jitter (see BENCHMARKS.md, eighteenth and nineteenth sessions):
 * N nanosleeps of 200 us each, timing how far past its due time each one wakes. A send's
 * answer takes at least four wake-ups (client, HTTP thread, store writer, HTTP thread), so
 * this tail is in every latency figure a box gives, the hello-world's included.
 * Usage: wakeup_jitter [N]   (default 40000) */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  long n = 40000;
  if (argc > 1) {
    char *end;
    n = strtol(argv[1], &end, 10);
    if (*argv[1] == '\0' || *end != '\0' || n < 1000 || n > 10000000) {
      fprintf(stderr, "wakeup_jitter: N must be a whole number from 1000 to 10000000, got '%s'\n",
              argv[1]);
      return 2;
    }
  }
  double *over = malloc(n * sizeof(double));
  if (!over) return 1;
  struct timespec nap = {0, 200000}, a, b;
  for (long i = 0; i < n; i++) {
    clock_gettime(CLOCK_MONOTONIC, &a);
    nanosleep(&nap, 0);
    clock_gettime(CLOCK_MONOTONIC, &b);
    over[i] = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / 1e6 - 0.2;
  }
  qsort(over, n, sizeof(double), by_value);
  printf("wake-up oversleep (ms): p50 %.3f p99 %.3f p99.9 %.3f max %.3f (%ld sleeps of 200 us)\n",
         over[n / 2], over[n * 99 / 100], over[n * 999 / 1000], over[n - 1], n);
  free(over);
  return 0;
}
