/* SPDX-License-Identifier: MIT */
/* References to drop once a lock is released. */
#include <netdirect/nd_util.h>
#include <stdlib.h>

void nd_util_puts_add(struct nd_util_puts *p, struct nd_object *obj)
{
	uint32_t i = p->n;

	if (i < ND_UTIL_PUTS_INLINE) {
		p->first[i] = obj;
		p->n++;
		return;
	}
	i -= ND_UTIL_PUTS_INLINE;
	if (i == p->cap_more) {
		uint32_t cap = p->cap_more ? 2 * p->cap_more : 8;
		struct nd_object **more =
		    realloc(p->more, (size_t)cap * sizeof(*more));

		if (!more) {
			/* Dropping it here could destroy it under the
			 * caller's lock; keeping it costs one object. */
			ND_LOG_RATELIMITED(ND_LOG_ERROR, "util",
					   "out of memory: leaking a "
					   "reference to %p",
					   (void *)obj);
			return;
		}
		p->more = more;
		p->cap_more = cap;
	}
	p->more[i] = obj;
	p->n++;
}

void nd_util_puts_drop(struct nd_util_puts *p)
{
	/* A drop may destroy an object whose destroy adds to a list of its
	 * own, never to this one: this one belongs to the caller's frame
	 * or was moved out from under a lock. */
	for (uint32_t i = 0; i < p->n; i++)
		nd_object_put(i < ND_UTIL_PUTS_INLINE
				  ? p->first[i]
				  : p->more[i - ND_UTIL_PUTS_INLINE]);
	free(p->more);
	*p = (struct nd_util_puts){0};
}
