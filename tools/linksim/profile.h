/* tools/linksim/profile.h — link-lab profiles: INI files (common/config.h) with a shared
 * [link] section and per-direction [up] (clinic -> hub) and [down] (hub -> clinic) overrides.
 * The keys are documented in tools/linksim/profiles/README. */
#ifndef PIROGUE_LINKSIM_PROFILE_H
#define PIROGUE_LINKSIM_PROFILE_H

#include <stddef.h>

#include "tools/linksim/model.h"

struct linksim_profile {
	char path[512];     /* file it came from ("" if built from defaults) */
	char base_dir[512]; /* directory for relative trace paths */
	struct linksim_params up, down;
};

/* Finds a profile: a name containing '/' is a path; otherwise NAME or NAME.ini is looked up in
 * $LINKSIM_PROFILE_DIR, <binary>/../tools/linksim/profiles, <binary>/../share/pirogue/linksim/
 * profiles. Writes the path into out (cap bytes). Errors: -ENOENT (err lists where it looked). */
int linksim_profile_find(const char *name, char *out, size_t cap, char *err)
        __attribute__((warn_unused_result));

/* Loads a profile file into *out (both directions). On failure nothing is left allocated and
 * err ("file: [section] key: reason") says why. Errors: config and LINKSIM_E* codes, -errno. */
int linksim_profile_load(struct linksim_profile *out, const char *path, char *err)
        __attribute__((warn_unused_result));

/* Applies the INI text (already parsed as config `c`) to a profile initialised with defaults;
 * what linksim_profile_load is built on (and what the fuzz target drives). */
struct config;
int linksim_profile_apply(struct linksim_profile *p, const struct config *c, char *err)
        __attribute__((warn_unused_result));

/* Initialises a profile with the defaults of every key. */
void linksim_profile_init(struct linksim_profile *p);

/* Applies "key=value" (both directions), "up.key=value" or "down.key=value". On failure the
 * profile is unchanged. Errors: LINKSIM_ESYNTAX (no '=' / bad prefix), linksim_params_set's. */
int linksim_profile_set(struct linksim_profile *p, const char *assignment, char *err)
        __attribute__((warn_unused_result));

/* Splits "dir.key=value": *dirs gets bit 1 for up, bit 2 for down; key and value are copied
 * into the caller's buffers (kcap, vcap bytes). Errors: LINKSIM_ESYNTAX. */
int linksim_assignment_split(const char *a, int *dirs, char *key, size_t kcap, char *value,
                             size_t vcap, char *err) __attribute__((warn_unused_result));

void linksim_profile_release(struct linksim_profile *p);

#endif
