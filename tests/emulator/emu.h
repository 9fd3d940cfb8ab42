/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* emu.h - kvlb-emu's configuration, shared by the option parser and the HTTP layer. */
#ifndef KVLB_EMU_H
#define KVLB_EMU_H

#include <stdint.h>

#include "metrics.h"
#include "sched.h"

struct emu_config {
	const char *listen;
	char name[256];
	const char *model;
	enum emu_flavor flavor;
	struct emu_sched_config sched;
	uint64_t seed;
	uint64_t max_body;
	uint64_t max_model_len;
	uint64_t default_max_tokens;
};

struct evhttp;
struct event_base;

/* Register the HTTP handlers; the scheduler must outlive the server. */
int api_setup(struct evhttp *http, struct event_base *base, const struct emu_config *cfg,
	      struct emu_sched *sched);

#endif
