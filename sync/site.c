/* sync/site.c — a site's configuration file (see site.h and image/pirogue.conf.example). */
#include "sync/site.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *sync_role_name(enum sync_role r)
{
	return r == SYNC_ROLE_CLINIC ? "clinic" : r == SYNC_ROLE_HUB ? "hub" : "?";
}

void sync_site_free(struct sync_site *site)
{
	if (!site)
		return;
	config_free(site->cfg);
	free(site->name);
	free(site->key_path);
	keys_free(site->keys);
	free(site->store_dir);
	free(site->hub_address);
	free(site->listen_address);
	free(site);
}

static int dup_str(char **out, const char *v)
{
	return (*out = strdup(v ? v : "")) ? 0 : -ENOMEM;
}

int sync_site_load(struct sync_site **out, const char *path, unsigned flags, char *err)
{
	struct sync_site *site = NULL;
	char cerr[CONFIG_ERR_MAX] = "";
	const char *v;
	int64_t port;
	uint64_t u;
	int ret;

	if (err)
		err[0] = 0;
	if (!out || !path)
		return -EINVAL;
	if (!(site = calloc(1, sizeof *site)))
		return -ENOMEM;
	if ((ret = config_load(&site->cfg, path, cerr)) != 0)
		goto out;
	if ((ret = config_require_str(site->cfg, "site", "role", &v, cerr)) != 0)
		goto out;
	if (!strcmp(v, "clinic"))
		site->role = SYNC_ROLE_CLINIC;
	else if (!strcmp(v, "hub"))
		site->role = SYNC_ROLE_HUB;
	else {
		snprintf(cerr, sizeof cerr, "%s: [site] role: must be clinic or hub, not \"%s\"",
		         path, v);
		ret = SYNC_ECONFIG;
		goto out;
	}
	if ((ret = config_get_str(site->cfg, "site", "name", "", &v, cerr)) != 0 ||
	    (ret = dup_str(&site->name, v)) != 0)
		goto out;
	if ((ret = config_require_str(site->cfg, "site", "key", &v, cerr)) != 0 ||
	    (ret = dup_str(&site->key_path, v)) != 0)
		goto out;
	if ((ret = config_require_str(site->cfg, "site", "store", &v, cerr)) != 0 ||
	    (ret = dup_str(&site->store_dir, v)) != 0)
		goto out;
	if ((ret = config_get_size(site->cfg, "site", "map_size", 256ull << 20, &site->map_size,
	                           cerr)) != 0 ||
	    (ret = config_get_size(site->cfg, "site", "map_max", 64ull << 30, &site->map_max,
	                           cerr)) != 0)
		goto out;
	if (site->map_size < (1u << 20)) {
		snprintf(cerr, sizeof cerr, "%s: [site] map_size: at least 1M", path);
		ret = SYNC_ECONFIG;
		goto out;
	}
	if (site->role == SYNC_ROLE_CLINIC) {
		if ((ret = config_require_str(site->cfg, "hub", "address", &v, cerr)) != 0 ||
		    (ret = dup_str(&site->hub_address, v)) != 0)
			goto out;
		if ((ret = config_get_int(site->cfg, "hub", "port", 1, 65535,
		                          SYNC_SITE_PORT_DEFAULT, &port, cerr)) != 0)
			goto out;
		site->hub_port = (uint16_t)port;
		if ((ret = config_require_str(site->cfg, "hub", "public_key", &v, cerr)) != 0)
			goto out;
		if (keys_pub_decode(v, &site->hub_pub) != 0) {
			snprintf(cerr, sizeof cerr,
			         "%s: [hub] public_key: not a Pirogue public key (88 base64 "
			         "characters "
			         "from `pirogue keygen`)",
			         path);
			ret = SYNC_ECONFIG;
			goto out;
		}
	} else {
		if ((ret = config_get_str(site->cfg, "listen", "address", "0.0.0.0", &v, cerr)) !=
		            0 ||
		    (ret = dup_str(&site->listen_address, v)) != 0)
			goto out;
		if ((ret = config_get_int(site->cfg, "listen", "port", 1, 65535,
		                          SYNC_SITE_PORT_DEFAULT, &port, cerr)) != 0)
			goto out;
		site->listen_port = (uint16_t)port;
	}
	if ((ret = config_get_duration_ms(site->cfg, "sync", "retention", 720ull * 3600 * 1000,
	                                  &site->retention_ms, cerr)) != 0)
		goto out;
	if ((ret = config_get_size(site->cfg, "sync", "chunk_size", SYNC_ENV_CHUNK_DEFAULT, &u,
	                           cerr)) != 0)
		goto out;
	if (u < SYNC_ENV_CHUNK_MIN || u > SYNC_ENV_CHUNK_MAX) {
		snprintf(cerr, sizeof cerr, "%s: [sync] chunk_size: must be 1K..1M", path);
		ret = SYNC_ECONFIG;
		goto out;
	}
	site->chunk_size = (uint32_t)u;
	if ((ret = config_get_size(site->cfg, "sync", "rate_cap", 0, &site->rate_cap, cerr)) != 0)
		goto out;
	if (!(flags & SYNC_SITE_NO_KEYS) && (ret = keys_load(site->key_path, &site->keys)) != 0) {
		snprintf(cerr, sizeof cerr, "%s: [site] key: %s: %s", path, site->key_path,
		         keys_strerror(ret));
		goto out;
	}
	*out = site;
	site = NULL;
	ret = 0;
out:
	if (ret != 0 && err)
		snprintf(err, SYNC_SITE_ERR_MAX, "%s", cerr[0] ? cerr : config_strerror(ret));
	sync_site_free(site);
	return ret;
}

int sync_site_open_store(const struct sync_site *site, struct sync_store **out)
{
	return sync_store_open(out, site->store_dir, site->map_size, site->map_max);
}
