/* tools/linksim/profile.c — loading link-lab profiles (see profile.h). */
#include "tools/linksim/profile.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"

static const char *const sections[] = {"up", "down"};

void linksim_profile_init(struct linksim_profile *p)
{
	memset(p, 0, sizeof *p);
	linksim_params_default(&p->up);
	linksim_params_default(&p->down);
}

void linksim_profile_release(struct linksim_profile *p)
{
	linksim_params_release(&p->up);
	linksim_params_release(&p->down);
}

static int exists(const char *path)
{
	return access(path, R_OK) == 0;
}

int linksim_profile_find(const char *name, char *out, size_t cap, char *err)
{
	char exe[PATH_MAX], dirs[3][PATH_MAX + 64], cand[PATH_MAX + 200];
	const char *env = getenv("LINKSIM_PROFILE_DIR");
	ssize_t n;
	size_t nd = 0, i;

	if (strchr(name, '/')) {
		if (!exists(name)) {
			linksim_errf(err, "profile %s: %s", name, strerror(errno));
			return -ENOENT;
		}
		snprintf(out, cap, "%s", name);
		return 0;
	}
	if (!*name || strlen(name) > 64) {
		linksim_errf(err, "bad profile name \"%s\"", name);
		return -ENOENT;
	}
	if (env && *env)
		snprintf(dirs[nd++], sizeof dirs[0], "%s", env);
	n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n > 0) {
		exe[n] = '\0';
		snprintf(dirs[nd++], sizeof dirs[0], "%s/../tools/linksim/profiles", dirname(exe));
		snprintf(dirs[nd++], sizeof dirs[0], "%s/../share/pirogue/linksim/profiles", exe);
	}
	for (i = 0; i < nd; i++) {
		if (snprintf(cand, sizeof cand, "%.4000s/%.64s.ini", dirs[i], name) < 0 ||
		    !exists(cand))
			snprintf(cand, sizeof cand, "%.4000s/%.64s", dirs[i], name);
		if (exists(cand)) {
			char *rp = realpath(cand, NULL);
			snprintf(out, cap, "%s", rp ? rp : cand);
			free(rp);
			return 0;
		}
	}
	linksim_errf(err, "no profile \"%s\" (looked in %s%s%s)", name, nd > 0 ? dirs[0] : "-",
	             nd > 1 ? ", " : "", nd > 1 ? dirs[1] : "");
	return -ENOENT;
}

static int check_keys(const struct config *c, const char *section, char *err)
{
	const char *key, *value;
	size_t i;

	for (i = 0; (key = config_key_at(c, section, i, &value)) != NULL; i++) {
		if (!linksim_params_known(key)) {
			linksim_errf(err, "%s: [%s] unknown key \"%s\"", config_name(c), section,
			             key);
			return LINKSIM_EKEY;
		}
	}
	return 0;
}

int linksim_profile_apply(struct linksim_profile *p, const struct config *c, char *err)
{
	static const char *const order[] = {
	        "seed",   "rate",        "trace",         "delay",        "jitter_interval",
	        "jitter", "burst",       "loss",          "fade_burst",   "fade_loss",
	        "queue",  "reorder",     "reorder_delay", "outage",       "outage_period",
	        "fade",   "fade_period", "fade_rate",     "police_burst", "police_rate",
	};
	char msg[LINKSIM_ERR_MAX];
	int ret;
	size_t s, k;

	if ((ret = check_keys(c, "", err)) != 0 || (ret = check_keys(c, "link", err)) != 0 ||
	    (ret = check_keys(c, "up", err)) != 0 || (ret = check_keys(c, "down", err)) != 0)
		return ret;
	for (s = 0; s < 2; s++) {
		struct linksim_params *dp = s == 0 ? &p->up : &p->down;
		for (k = 0; k < sizeof order / sizeof order[0]; k++) {
			const char *sec = sections[s], *v = config_get(c, sec, order[k]);
			if (!v)
				v = config_get(c, sec = "link", order[k]);
			if (!v)
				v = config_get(c, sec = "", order[k]);
			if (!v)
				continue;
			if ((ret = linksim_params_set(dp, order[k], v, p->base_dir, msg)) != 0) {
				linksim_errf(err, "%s: [%s] %s: %s", config_name(c), sec, order[k],
				             msg);
				return ret;
			}
		}
	}
	return 0;
}

int linksim_profile_load(struct linksim_profile *out, const char *path, char *err)
{
	struct linksim_profile p;
	struct config *c = NULL;
	char cerr[CONFIG_ERR_MAX], tmp[PATH_MAX];
	int ret;

	linksim_profile_init(&p);
	snprintf(p.path, sizeof p.path, "%s", path);
	snprintf(tmp, sizeof tmp, "%s", path);
	snprintf(p.base_dir, sizeof p.base_dir, "%s", dirname(tmp));
	if ((ret = config_load(&c, path, cerr)) != 0) {
		linksim_errf(err, "%s", cerr);
		goto out;
	}
	if ((ret = linksim_profile_apply(&p, c, err)) != 0)
		goto out;
	*out = p;
	memset(&p, 0, sizeof p);
	ret = 0;
out:
	linksim_profile_release(&p);
	config_free(c);
	return ret;
}

int linksim_assignment_split(const char *a, int *dirs, char *key, size_t kcap, char *value,
                             size_t vcap, char *err)
{
	const char *eq = strchr(a, '='), *k = a;
	size_t klen;
	int d = 3;

	if (!eq) {
		linksim_errf(err, "\"%s\": expected key=value", a);
		return LINKSIM_ESYNTAX;
	}
	if (!strncmp(a, "up.", 3)) {
		d = 1;
		k = a + 3;
	} else if (!strncmp(a, "down.", 5)) {
		d = 2;
		k = a + 5;
	}
	klen = (size_t)(eq - k);
	while (klen > 0 && k[klen - 1] == ' ')
		klen--;
	if (klen == 0 || klen >= kcap || strlen(eq + 1) >= vcap) {
		linksim_errf(err, "\"%s\": bad key or value too long", a);
		return LINKSIM_ESYNTAX;
	}
	memcpy(key, k, klen);
	key[klen] = '\0';
	eq++;
	while (*eq == ' ')
		eq++;
	snprintf(value, vcap, "%s", eq);
	*dirs = d;
	return 0;
}

int linksim_profile_set(struct linksim_profile *p, const char *assignment, char *err)
{
	struct linksim_params up, down;
	char key[64], value[1024], msg[LINKSIM_ERR_MAX];
	int dirs, ret;

	if ((ret = linksim_assignment_split(assignment, &dirs, key, sizeof key, value, sizeof value,
	                                    err)) != 0)
		return ret;
	if ((ret = linksim_params_copy(&up, &p->up)) != 0)
		return ret;
	if ((ret = linksim_params_copy(&down, &p->down)) != 0) {
		linksim_params_release(&up);
		return ret;
	}
	if ((dirs & 1) && (ret = linksim_params_set(&up, key, value, p->base_dir, msg)) != 0)
		goto fail;
	if ((dirs & 2) && (ret = linksim_params_set(&down, key, value, p->base_dir, msg)) != 0)
		goto fail;
	linksim_profile_release(p);
	p->up = up;
	p->down = down;
	return 0;
fail:
	linksim_errf(err, "%s: %s", key, msg);
	linksim_params_release(&up);
	linksim_params_release(&down);
	return ret;
}
