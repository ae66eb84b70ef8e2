// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
//
// The floor for any statistics over a file: the time to read every byte of it from the page
// cache on all cores, each thread adding up the 64-bit words of its own slice. Two ways, the
// faster of which bench_stats.py reports:
//   mmap:  a private read-only mapping of the whole file (page faults included, as ptscope reads);
//   pread: each thread reads its slice through a 1 MiB buffer (one copy out of the page cache).
//
//     read_baseline FILE mmap|pread [THREADS]    prints "SECONDS s" and the checksum
//
// Built by bench_stats.py with the system C compiler (cc -O3 -march=native -pthread).
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct slice {
    int fd;
    const unsigned char *map; // NULL: pread
    uint64_t begin, end;
    uint64_t sum;
};

static uint64_t sumWords(const unsigned char *p, size_t n)
{
    uint64_t s = 0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        s += w;
    }
    for (; i < n; ++i)
        s += p[i];
    return s;
}

static void *work(void *arg)
{
    struct slice *s = arg;
    if (s->map) {
        s->sum = sumWords(s->map + s->begin, s->end - s->begin);
        return NULL;
    }
    enum { kBuffer = 1 << 20 };
    unsigned char *buf = aligned_alloc(64, kBuffer);
    for (uint64_t at = s->begin; at < s->end;) {
        const size_t want = s->end - at < kBuffer ? (size_t)(s->end - at) : kBuffer;
        const ssize_t got = pread(s->fd, buf, want, (off_t)at);
        if (got <= 0)
            break;
        s->sum += sumWords(buf, (size_t)got);
        at += (uint64_t)got;
    }
    free(buf);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s FILE mmap|pread [THREADS]\n", argv[0]);
        return 2;
    }
    const int useMap = strcmp(argv[2], "mmap") == 0;
    long threads = argc > 3 ? atol(argv[3]) : sysconf(_SC_NPROCESSORS_ONLN);
    if (threads < 1)
        threads = 1;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    const int fd = open(argv[1], O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        perror(argv[1]);
        return 1;
    }
    const uint64_t size = (uint64_t)st.st_size;
    const unsigned char *map = NULL;
    if (useMap && size) {
        map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            perror("mmap");
            return 1;
        }
    }
    struct slice *slices = calloc((size_t)threads, sizeof *slices);
    pthread_t *ids = calloc((size_t)threads, sizeof *ids);
    const uint64_t per = (size + (uint64_t)threads - 1) / (uint64_t)threads / 4096 * 4096 + 4096;
    for (long t = 0; t < threads; ++t) {
        const uint64_t b = (uint64_t)t * per < size ? (uint64_t)t * per : size;
        const uint64_t e = b + per < size ? b + per : size;
        slices[t] = (struct slice){fd, map, b, e, 0};
        if (t > 0)
            pthread_create(&ids[t], NULL, work, &slices[t]);
    }
    work(&slices[0]);
    uint64_t sum = slices[0].sum;
    for (long t = 1; t < threads; ++t) {
        pthread_join(ids[t], NULL);
        sum += slices[t].sum;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("SECONDS %.6f\nCHECKSUM %llu\n", (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec),
           (unsigned long long)sum);
    return 0;
}
