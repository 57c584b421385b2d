/* SPDX-License-Identifier: MIT */
/*
 * Provider registry: built-in providers plus shared objects found in
 * ND_PROVIDER_PATH (a colon-separated list of directories) and the install
 * directory, filtered by ND_PROVIDERS ("tcp", "verbs,tcp", "^tcp").
 * nd_startup() loads and initialises them once; the last nd_cleanup() ends
 * them. Libraries stay loaded while any adapter lives.
 */
#include "core.h"
#include "nd_config.h"

#include <dirent.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if ND_WITH_VERBS
extern const struct nd_provider verbs_provider;
#endif
#if ND_WITH_TCP
extern const struct nd_provider tcp_provider;
#endif

static const struct nd_provider *const builtin_providers[] = {
#if ND_WITH_VERBS
    &verbs_provider,
#endif
#if ND_WITH_TCP
    &tcp_provider,
#endif
    NULL,
};

#define MAX_PROVIDERS 16

struct provider_slot {
	const struct nd_provider *prov;
	void *dl; /* NULL for built-in */
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned startup_refs;
static struct provider_slot slots[MAX_PROVIDERS];
static unsigned nslots;
static int live_adapters;
/* Libraries unloaded by nd_cleanup() while adapters still lived. */
static void *retired[MAX_PROVIDERS];
static unsigned nretired;

bool ndi_started(void)
{
	return __atomic_load_n(&startup_refs, __ATOMIC_ACQUIRE) > 0;
}

unsigned ndi_provider_count(void)
{
	return nslots;
}

const struct nd_provider *ndi_provider(unsigned i)
{
	return i < nslots ? slots[i].prov : NULL;
}

void ndi_adapter_live(int delta)
{
	__atomic_add_fetch(&live_adapters, delta, __ATOMIC_ACQ_REL);
}

/* ND_PROVIDERS: names to use, or ^names to leave out; unset means all. */
static bool provider_selected(const char *name)
{
	const char *sel = getenv("ND_PROVIDERS");
	bool any_positive = false, listed = false;
	char buf[256];

	if (!sel || !*sel)
		return true;
	snprintf(buf, sizeof(buf), "%s", sel);
	for (char *save = NULL, *tok = strtok_r(buf, ", ", &save); tok;
	     tok = strtok_r(NULL, ", ", &save)) {
		bool exclude = tok[0] == '^';
		const char *n = exclude ? tok + 1 : tok;

		if (!exclude)
			any_positive = true;
		if (strcmp(n, name) == 0) {
			if (exclude)
				return false;
			listed = true;
		}
	}
	return listed || !any_positive;
}

static bool provider_known(const char *name)
{
	for (unsigned i = 0; i < nslots; i++)
		if (strcmp(slots[i].prov->name, name) == 0)
			return true;
	return false;
}

/* Checks the descriptor and initialises the provider; false to skip it. */
static bool provider_add(const struct nd_provider *prov, void *dl,
			 const char *origin)
{
	if (prov->abi_version < ND_PROVIDER_ABI_MIN ||
	    prov->abi_version > ND_PROVIDER_ABI_VERSION ||
	    prov->size < sizeof(struct nd_provider)) {
		ND_WARN("core",
			"%s: provider ABI %u (size %u) is not supported by "
			"this library (ABI %u..%u); skipped",
			origin, prov->abi_version, prov->size,
			ND_PROVIDER_ABI_MIN, ND_PROVIDER_ABI_VERSION);
		return false;
	}
	if (!prov->name || !prov->query_address_list ||
	    !prov->resolve_address || !prov->open_adapter) {
		ND_WARN("core", "%s: incomplete provider descriptor; skipped",
			origin);
		return false;
	}
	if (!provider_selected(prov->name)) {
		ND_DEBUG("core", "provider %s not selected by ND_PROVIDERS",
			 prov->name);
		return false;
	}
	if (provider_known(prov->name)) {
		ND_WARN("core",
			"%s: a provider named %s is already loaded; "
			"skipped",
			origin, prov->name);
		return false;
	}
	if (nslots == MAX_PROVIDERS) {
		ND_WARN("core", "%s: too many providers; skipped", origin);
		return false;
	}
	if (prov->init) {
		nd_status st = prov->init();
		if (ND_FAILED(st)) {
			ND_INFO("core", "provider %s unavailable: %s",
				prov->name, nd_strerror(st));
			return false;
		}
	}
	/* Keep the list sorted best first; equal priorities keep load order. */
	unsigned at = nslots;
	while (at > 0 && slots[at - 1].prov->priority < prov->priority) {
		slots[at] = slots[at - 1];
		at--;
	}
	slots[at] = (struct provider_slot){.prov = prov, .dl = dl};
	nslots++;
	ND_DEBUG("core", "provider %s loaded from %s", prov->name, origin);
	return true;
}

static void load_shared(const char *path)
{
	void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	nd_provider_entry_fn entry;
	const struct nd_provider *prov;

	if (!dl) {
		ND_WARN("core", "cannot load provider %s: %s", path, dlerror());
		return;
	}
	*(void **)&entry = dlsym(dl, ND_PROVIDER_ENTRY_SYMBOL);
	if (!entry) {
		ND_WARN("core", "%s has no %s(); skipped", path,
			ND_PROVIDER_ENTRY_SYMBOL);
		dlclose(dl);
		return;
	}
	prov = entry(ND_PROVIDER_ABI_VERSION);
	if (!prov || !provider_add(prov, dl, path))
		dlclose(dl);
}

static void load_dir(const char *dir)
{
	struct dirent **names;
	int n = scandir(dir, &names, NULL, alphasort);
	char path[4096];

	for (int i = 0; i < n; i++) {
		size_t len = strlen(names[i]->d_name);

		if (len > 3 && strcmp(names[i]->d_name + len - 3, ".so") == 0) {
			snprintf(path, sizeof(path), "%s/%s", dir,
				 names[i]->d_name);
			load_shared(path);
		}
		free(names[i]);
	}
	if (n >= 0)
		free(names);
}

static void load_providers(void)
{
	const char *env = getenv("ND_PROVIDER_PATH");

	for (unsigned i = 0; builtin_providers[i]; i++)
		provider_add(builtin_providers[i], NULL, "built-in");
	if (env) {
		char buf[4096];
		snprintf(buf, sizeof(buf), "%s", env);
		for (char *save = NULL, *d = strtok_r(buf, ":", &save); d;
		     d = strtok_r(NULL, ":", &save))
			load_dir(d);
	}
	load_dir(ND_PROVIDER_DIR);
	if (nslots == 0)
		ND_INFO("core", "no provider available%s",
			getenv("ND_PROVIDERS") ? " (ND_PROVIDERS is set)" : "");
}

/* Registry locked. */
static void flush_retired(void)
{
	if (__atomic_load_n(&live_adapters, __ATOMIC_ACQUIRE) != 0)
		return;
	while (nretired > 0)
		dlclose(retired[--nretired]);
}

static void unload_providers(void)
{
	for (unsigned i = 0; i < nslots; i++)
		if (slots[i].prov->fini)
			slots[i].prov->fini();
	/* Code of a loaded library may still run inside live adapters:
	 * those wait for nd_flush_providers(). */
	for (unsigned i = 0; i < nslots; i++)
		if (slots[i].dl && nretired < MAX_PROVIDERS)
			retired[nretired++] = slots[i].dl;
	nslots = 0;
	flush_retired();
}

nd_status nd_startup(void)
{
	pthread_mutex_lock(&registry_lock);
	if (startup_refs == 0)
		load_providers();
	__atomic_add_fetch(&startup_refs, 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&registry_lock);
	return ND_SUCCESS;
}

nd_status nd_cleanup(void)
{
	nd_status st = ND_SUCCESS;

	pthread_mutex_lock(&registry_lock);
	if (startup_refs == 0)
		st = ND_DEVICE_NOT_READY;
	else if (__atomic_sub_fetch(&startup_refs, 1, __ATOMIC_ACQ_REL) == 0)
		unload_providers();
	pthread_mutex_unlock(&registry_lock);
	return st;
}

void nd_flush_providers(void)
{
	pthread_mutex_lock(&registry_lock);
	flush_retired();
	pthread_mutex_unlock(&registry_lock);
}
