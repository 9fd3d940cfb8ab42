/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The little that http.h and prefix.h need to compile both as BPF (clang
 * -target bpf) and as plain userspace C (gcc, for unit tests and fuzzing).
 * Nothing here may call a helper or touch a map: those files are pure
 * functions over a state struct and bytes.
 */
#ifndef KVLB_CSHIM_H
#define KVLB_CSHIM_H

#include <linux/types.h>
#include <stdbool.h>

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

/*
 * Keep a value opaque to the compiler at this point, so a mask or bounds
 * check that follows is emitted even when the compiler could prove it
 * redundant: the BPF verifier tracks bounds per register and needs to see
 * it. Costs nothing in userspace.
 */
#define KVLB_OPAQUE(v) asm volatile("" : "+r"(v))

#endif
