/* sync/site.h — a site's configuration (common/config.h file), shared by `pirogue` and
 * `pirogued`. The keys are documented in image/pirogue.conf.example:
 *
 *   [site]    role = clinic|hub (required), name, key (private key file, required),
 *             store (LMDB directory, required), map_size (default 256M), map_max (default 64G)
 *   [hub]     clinic only: address (required), port (default 7443),
 *             public_key (the hub's 88-char public key, required: pinned)
 *   [listen]  hub only: address (default 0.0.0.0), port (default 7443)
 *   [sync]    retention (default 720h), chunk_size (default 64K), rate_cap (bytes/s, 0 = none)
 *
 * Other sections/keys are left to their users (the daemon reads them from site->cfg).
 */
#ifndef PIROGUE_SYNC_SITE_H
#define PIROGUE_SYNC_SITE_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "common/config.h"
#include "common/keys.h"
#include "sync/store.h"

enum sync_role { SYNC_ROLE_CLINIC = 1, SYNC_ROLE_HUB = 2 };

#define SYNC_SITE_PORT_DEFAULT 7443
#define SYNC_SITE_ERR_MAX      (CONFIG_ERR_MAX + 256)

/* Loaded site configuration. Plain data owned by the struct (sync_site_free). */
struct sync_site {
	struct config *cfg; /* the whole parsed file, for sections other modules own */
	enum sync_role role;
	char *name;        /* [site] name, "" if absent */
	char *key_path;    /* [site] key */
	struct keys *keys; /* loaded private keys (NULL when loaded with SYNC_SITE_NO_KEYS) */
	char *store_dir;   /* [site] store */
	uint64_t map_size, map_max;
	/* clinic */
	char *hub_address; /* NULL on a hub */
	uint16_t hub_port;
	struct keys_pub hub_pub;
	/* hub */
	char *listen_address; /* NULL on a clinic */
	uint16_t listen_port;
	/* sync */
	uint64_t retention_ms;
	uint32_t chunk_size;
	uint64_t rate_cap; /* bytes per second, 0 = no cap */
};

#define SYNC_SITE_NO_KEYS 1u /* don't load the private key (commands that need no secret) */

/* Loads and validates the config at `path` and (unless SYNC_SITE_NO_KEYS) the site's private
 * key. On failure writes a message naming the file, line and key (or the key file) to err
 * (SYNC_SITE_ERR_MAX bytes) and returns a CONFIG_E*, KEYS_E*, SYNC_ECONFIG or -errno code. */
int sync_site_load(struct sync_site **out, const char *path, unsigned flags, char *err)
        __attribute__((warn_unused_result));
void sync_site_free(struct sync_site *site); /* NULL is fine; wipes the keys */

/* Opens the site's store with its map settings (sync_store_open). */
int sync_site_open_store(const struct sync_site *site, struct sync_store **out)
        __attribute__((warn_unused_result));

const char *sync_role_name(enum sync_role r); /* "clinic" / "hub" */

/* --- helpers shared by the CLI commands (and usable by the daemon's API) -------------------- */

/* The config path to use: `opt` (from --config) if not NULL, else $PIROGUE_CONFIG if set and
 * non-empty, else `def`. */
const char *sync_site_config_path(const char *opt, const char *def);

/* Loads the site (flags as sync_site_load) and opens its store. On failure writes a message to
 * err (SYNC_SITE_ERR_MAX bytes) and returns the error; *site and *store are set only on success. */
int sync_site_open_all(const char *path, unsigned flags, struct sync_site **site,
                       struct sync_store **store, char *err) __attribute__((warn_unused_result));

/* A record as a JSON object: id, ref (if any), direction, kind, priority, state, progress
 * (0..100), chunks, chunks_done, size (plain bytes), wire_size, created, changed (ISO 8601),
 * peer (public key text), peer_name (if given), title, replies; for a refused record
 * refused_code, refused_reason (short) and refused_detail; with `sum`: note and parts
 * [{name, type, size}]. Returns a new reference (NULL on allocation failure). */
json_t *sync_record_json(const struct sync_record_info *r, const struct sync_env_content *sum,
                         const char *peer_name);

/* Progress of a record in percent (outbox: acknowledged chunks; inbox: persisted chunks). */
unsigned sync_record_progress(const struct sync_record_info *r);

/* "1.2 MB"-style size into out (at least 16 bytes). Returns out. */
char *sync_size_human(uint64_t bytes, char *out, size_t cap);

#endif
