/* sync/site.c — a site's configuration file (see site.h and image/pirogue.conf.example). */
#include "sync/site.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mtime.h"

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

const char *sync_site_config_path(const char *opt, const char *def)
{
	const char *env = getenv("PIROGUE_CONFIG");

	if (opt)
		return opt;
	if (env && *env)
		return env;
	return def;
}

int sync_site_open_all(const char *path, unsigned flags, struct sync_site **site,
                       struct sync_store **store, char *err)
{
	struct sync_site *st = NULL;
	struct sync_store *s = NULL;
	int ret;

	if ((ret = sync_site_load(&st, path, flags, err)) != 0)
		return ret;
	if ((ret = sync_site_open_store(st, &s)) != 0) {
		snprintf(err, SYNC_SITE_ERR_MAX, "cannot open the store %s: %s", st->store_dir,
		         sync_strerror(ret));
		sync_site_free(st);
		return ret;
	}
	*site = st;
	*store = s;
	return 0;
}

unsigned sync_record_progress(const struct sync_record_info *r)
{
	if (r->state == SYNC_ST_DELIVERED || r->state == SYNC_ST_ANSWERED ||
	    r->state == SYNC_ST_RECEIVED)
		return 100;
	if (!r->chunk_count)
		return 0;
	return (unsigned)((uint64_t)r->chunks_done * 100 / r->chunk_count);
}

char *sync_size_human(uint64_t b, char *out, size_t cap)
{
	if (b < 1000)
		snprintf(out, cap, "%llu B", (unsigned long long)b);
	else if (b < 1000 * 1000)
		snprintf(out, cap, "%.1f kB", (double)b / 1e3);
	else if (b < 1000ull * 1000 * 1000)
		snprintf(out, cap, "%.1f MB", (double)b / 1e6);
	else
		snprintf(out, cap, "%.2f GB", (double)b / 1e9);
	return out;
}

static int jset(json_t *o, const char *k, json_t *v)
{
	return v ? json_object_set_new(o, k, v) : -1;
}

json_t *sync_record_json(const struct sync_record_info *r, const struct sync_env_content *sum,
                         const char *peer_name)
{
	static const uint8_t zero[SYNC_ENV_ID_BYTES];
	char hex[SYNC_ENV_ID_HEX_LEN], pub[KEYS_PUB_B64_LEN], t1[MTIME_ISO_LEN], t2[MTIME_ISO_LEN];
	json_t *o = json_object(), *parts;
	int bad = 0;

	if (!o)
		return NULL;
	sync_env_id_hex(r->id, hex);
	keys_pub_encode(&r->peer, pub);
	bad |= jset(o, "id", json_string(hex));
	if (memcmp(r->ref, zero, sizeof zero)) {
		sync_env_id_hex(r->ref, hex);
		bad |= jset(o, "ref", json_string(hex));
	}
	bad |= jset(o, "direction", json_string(r->dir == SYNC_OUTBOX ? "outbox" : "inbox"));
	bad |= jset(o, "kind", json_string(r->kind == SYNC_ENV_REPLY ? "reply" : "case"));
	bad |= jset(o, "priority", json_string(sync_env_priority_name(r->priority)));
	bad |= jset(o, "state", json_string(sync_state_name(r->state)));
	bad |= jset(o, "progress", json_integer(sync_record_progress(r)));
	if (r->state == SYNC_ST_REFUSED) {
		bad |= jset(o, "refused_code", json_integer(r->refused_code));
		bad |= jset(o, "refused_reason", json_string(sync_refusal_reason(r->refused_code)));
		bad |= jset(o, "refused_detail", json_string(sync_strerror(r->refused_code)));
	}
	bad |= jset(o, "chunks", json_integer(r->chunk_count));
	bad |= jset(o, "chunks_done", json_integer(r->chunks_done));
	bad |= jset(o, "size", json_integer((json_int_t)r->plain_size));
	bad |= jset(o, "wire_size", json_integer((json_int_t)r->wire_size));
	bad |= jset(o, "created", json_string(mtime_iso8601(r->created_ms, t1)));
	bad |= jset(o, "changed", json_string(mtime_iso8601(r->changed_ms, t2)));
	bad |= jset(o, "peer", json_string(pub));
	if (peer_name)
		bad |= jset(o, "peer_name", json_string(peer_name));
	bad |= jset(o, "title", json_string(r->title));
	bad |= jset(o, "replies", json_integer(r->reply_count));
	if (sum) {
		bad |= jset(o, "note", json_stringn(sum->note ? sum->note : "", sum->note_len));
		if (!(parts = json_array()))
			bad = 1;
		else {
			for (size_t i = 0; i < sum->part_count; i++) {
				json_t *p = json_object();
				if (!p) {
					bad = 1;
					break;
				}
				bad |= jset(p, "name", json_string(sum->parts[i].name));
				bad |= jset(p, "type", json_string(sum->parts[i].type));
				bad |= jset(p, "size",
				            json_integer((json_int_t)sum->parts[i].size));
				bad |= json_array_append_new(parts, p);
			}
			bad |= jset(o, "parts", parts);
		}
	}
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}
