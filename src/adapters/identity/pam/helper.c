/*
 * portcullis-pam-helper: checks passwords through PAM on behalf of Portcullis.
 *
 * Portcullis runs a few of these as child processes so that blocking PAM calls
 * (and the delays some modules add) never hold Node's event loop or its libuv
 * thread pool. One process answers one request at a time, for as many
 * requests as it is sent, until its standard input closes.
 *
 *   usage: portcullis-pam-helper SERVICE
 *
 * Request on stdin (no shell, no argv, nothing secret on the command line):
 *   u32 big-endian length, username bytes, u32 big-endian length, password bytes
 * Answer on stdout, one line, fields separated by TAB:
 *   OK    <uid> <user as PAM knows it> <group>...   authenticated, account valid
 *   FAIL  <auth|acct> <pam code> <pam_strerror>     a normal refusal
 *   ERR   <pam code> <message>                      PAM could not answer
 * A malformed request ends the process (exit status 2).
 *
 * An unknown user costs one password hash like a known one (pam_unix answers
 * "unknown" in ~1 ms but a wrong password in ~40 ms with yescrypt), so the
 * answer time does not tell which OS accounts exist.
 *
 * Build: cc -O2 -Wall -o portcullis-pam-helper helper.c -lpam -lcrypt
 */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>
#include <crypt.h>
#include <security/pam_appl.h>

#define MAX_FIELD 4096
#define MAX_GROUPS 1024

struct creds {
  const char *password;
};

/* Answers password prompts (echo off) with the password; refuses anything else that needs an answer. */
static int conversation(int n, const struct pam_message **msg, struct pam_response **resp, void *data) {
  struct creds *c = data;
  if (n <= 0 || n > PAM_MAX_NUM_MSG) return PAM_CONV_ERR;
  struct pam_response *r = calloc((size_t)n, sizeof *r);
  if (!r) return PAM_BUF_ERR;
  for (int i = 0; i < n; i++) {
    switch (msg[i]->msg_style) {
    case PAM_PROMPT_ECHO_OFF:
      r[i].resp = strdup(c->password);
      if (!r[i].resp) goto fail;
      break;
    case PAM_ERROR_MSG:
    case PAM_TEXT_INFO:
      break;
    default: /* PAM_PROMPT_ECHO_ON and the rest: nobody is there to answer */
      goto fail;
    }
  }
  *resp = r;
  return PAM_SUCCESS;
fail:
  for (int i = 0; i < n; i++) {
    if (r[i].resp) {
      explicit_bzero(r[i].resp, strlen(r[i].resp));
      free(r[i].resp);
    }
  }
  free(r);
  return PAM_CONV_ERR;
}

/* Replaces libpam's fail delay: the caller decides how to pace failures, a worker never sleeps. */
static void no_delay(int status, unsigned int usec, void *data) {
  (void)status;
  (void)usec;
  (void)data;
}

/* A hash setting of the system's default method and cost (yescrypt on Debian 12), for the decoy. */
static const char *decoy_setting(void) {
  static char setting[CRYPT_GENSALT_OUTPUT_SIZE];
  static const char *const prefixes[] = {"$y$", "$6$", NULL};
  for (int i = 0; prefixes[i]; i++)
    if (crypt_gensalt_rn(prefixes[i], 0, NULL, 0, setting, sizeof setting)) return setting;
  return NULL;
}

/* Done the way pam_unix does it (fresh crypt_data, then the comparison), so it costs about the same. */
static void decoy_hash(const char *setting, const char *password) {
  if (!setting) return;
  struct crypt_data *data = calloc(1, sizeof *data);
  if (!data) return;
  const char *h = crypt_r(password, setting, data);
  if (h) (void)strcmp(h, setting);
  explicit_bzero(data, sizeof *data);
  free(data);
}

static int read_full(void *buf, size_t len) {
  unsigned char *p = buf;
  while (len > 0) {
    ssize_t n = read(STDIN_FILENO, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

/* Reads one length-prefixed field into buf (NUL-terminated). 1 = ok, 0 = clean EOF, -1 = malformed. */
static int read_field(char *buf, int first) {
  unsigned char len_be[4];
  ssize_t n;
  size_t got = 0;
  while (got < 4) {
    n = read(STDIN_FILENO, len_be + got, 4 - got);
    if (n < 0 && errno == EINTR) continue;
    if (n == 0 && got == 0 && first) return 0;
    if (n <= 0) return -1;
    got += (size_t)n;
  }
  uint32_t len = ((uint32_t)len_be[0] << 24) | ((uint32_t)len_be[1] << 16) | ((uint32_t)len_be[2] << 8) | len_be[3];
  if (len > MAX_FIELD) return -1;
  if (read_full(buf, len) != 0) return -1;
  buf[len] = '\0';
  if (memchr(buf, '\0', len)) return -1;
  return 1;
}

/* Writes s with TAB, CR and LF replaced, so a field can never break the line protocol. */
static void put_field(const char *s) {
  putchar('\t');
  for (; *s; s++) putchar(*s == '\t' || *s == '\n' || *s == '\r' ? '?' : *s);
}

static void answer_groups(const char *user) {
  struct passwd pw, *pwp = NULL;
  char pwbuf[16384];
  if (getpwnam_r(user, &pw, pwbuf, sizeof pwbuf, &pwp) != 0 || !pwp) {
    /* Authenticated by a module that knows users the system's NSS does not: no groups. */
    fputs("OK\t-1", stdout);
    put_field(user);
    putchar('\n');
    return;
  }
  gid_t groups[MAX_GROUPS];
  int ngroups = MAX_GROUPS;
  if (getgrouplist(user, pw.pw_gid, groups, &ngroups) < 0) ngroups = MAX_GROUPS; /* truncated: keep the first ones */
  printf("OK\t%ld", (long)pw.pw_uid);
  /* The account's own name, not the typed one (case-insensitive NSS such as sssd finds "alice" for "ALICE"): the canonical identity. */
  put_field(pw.pw_name);
  for (int i = 0; i < ngroups; i++) {
    struct group gr, *grp = NULL;
    char grbuf[65536];
    if (getgrgid_r(groups[i], &gr, grbuf, sizeof grbuf, &grp) == 0 && grp) put_field(gr.gr_name);
  }
  putchar('\n');
}

int main(int argc, char **argv) {
  if (argc != 2 || argv[1][0] == '\0') {
    fprintf(stderr, "usage: %s SERVICE (requests on standard input)\n", argv[0]);
    return 2;
  }
  /* Passwords pass through this process: no core dumps, no ptrace by other users. */
  struct rlimit no_core = {0, 0};
  setrlimit(RLIMIT_CORE, &no_core);
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);

  const char *decoy = decoy_setting();
  static char user[MAX_FIELD + 1], password[MAX_FIELD + 1];
  for (;;) {
    int r = read_field(user, 1);
    if (r == 0) return 0;
    if (r < 0 || read_field(password, 0) != 1) {
      explicit_bzero(password, sizeof password);
      return 2;
    }
    struct creds c = {password};
    struct pam_conv conv = {conversation, &c};
    pam_handle_t *pamh = NULL;
    int rc = pam_start(argv[1], user, &conv, &pamh);
    if (rc != PAM_SUCCESS) {
      printf("ERR\t%d", rc);
      put_field("pam_start failed");
      putchar('\n');
    } else {
      pam_set_item(pamh, PAM_FAIL_DELAY, (const void *)no_delay);
      const char *stage = "auth";
      rc = pam_authenticate(pamh, PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK);
      if (rc == PAM_USER_UNKNOWN) {
        /* A wrong password through pam_unix measured as two hashes' time (~36 ms vs ~18 ms for one). */
        decoy_hash(decoy, password);
        decoy_hash(decoy, password);
      }
      if (rc == PAM_SUCCESS) {
        stage = "acct";
        rc = pam_acct_mgmt(pamh, PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK);
      }
      if (rc == PAM_SUCCESS) {
        const void *item = NULL;
        const char *who = user;
        if (pam_get_item(pamh, PAM_USER, &item) == PAM_SUCCESS && item) who = item;
        answer_groups(who);
      } else {
        switch (rc) {
        case PAM_AUTH_ERR: case PAM_USER_UNKNOWN: case PAM_CRED_INSUFFICIENT: case PAM_MAXTRIES:
        case PAM_ACCT_EXPIRED: case PAM_NEW_AUTHTOK_REQD: case PAM_PERM_DENIED:
          printf("FAIL\t%s\t%d", stage, rc);
          break;
        default:
          printf("ERR\t%d", rc);
        }
        put_field(pam_strerror(pamh, rc));
        putchar('\n');
      }
      pam_end(pamh, rc);
    }
    explicit_bzero(password, sizeof password);
    if (fflush(stdout) != 0) return 1;
  }
}
