/* bench.c: APDU round trip in-process through the C ABI vs the same APDU over PC/SC
 * (pcsc-lite -> pcscd -> vpcd -> `sscard run`), measured in one run, alternating blocks
 * so drift hits both alike. Run by benches/ffi_roundtrip.sh, which builds it and serves
 * the card:
 *
 *   bench N READER   ->  one line per workload: medians and the ratio pcsc / in-process
 */
#include <PCSC/winscard.h>
#include <PCSC/wintypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sscard.h"

#define BLOCK 100

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *values, size_t n) {
  qsort(values, n, sizeof *values, by_value);
  return values[n / 2];
}

static uint8_t response[SSCARD_MAX_RESPONSE];

static int in_process(SscardCard *card, const uint8_t *apdu, size_t len) {
  size_t response_len = 0;
  if (sscard_transmit(card, apdu, len, response, sizeof response, &response_len) != SSCARD_OK)
    return -1;
  return (response[response_len - 2] << 8) | response[response_len - 1];
}

static int over_pcsc(SCARDHANDLE handle, const SCARD_IO_REQUEST *pci, const uint8_t *apdu,
                     size_t len) {
  DWORD response_len = sizeof response;
  if (SCardTransmit(handle, pci, apdu, (DWORD)len, NULL, response, &response_len) !=
      SCARD_S_SUCCESS)
    return -1;
  return (response[response_len - 2] << 8) | response[response_len - 1];
}

int main(int argc, char **argv) {
  size_t n = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 5000;
  const char *reader = argc > 2 ? argv[2] : "Virtual PCD 00 00";
  if (n < BLOCK) n = BLOCK;
  size_t blocks = n / BLOCK;

  SscardCard *card = NULL;
  if (sscard_card_new(NULL, 0, 0, &card) != SSCARD_OK ||
      sscard_power_on(card, NULL, 0, NULL) != SSCARD_OK) {
    fprintf(stderr, "in-process card failed\n");
    return 1;
  }
  SCARDCONTEXT context;
  SCARDHANDLE handle = 0;
  DWORD protocol = 0;
  if (SCardEstablishContext(SCARD_SCOPE_USER, NULL, NULL, &context) != SCARD_S_SUCCESS) {
    fprintf(stderr, "no pcscd\n");
    return 1;
  }
  LONG rv = SCARD_E_NO_SMARTCARD;
  for (int tries = 0; tries < 100 && rv != SCARD_S_SUCCESS; tries++) {
    rv = SCardConnect(context, reader, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1,
                      &handle, &protocol);
    if (rv != SCARD_S_SUCCESS) {
      struct timespec pause = {0, 100000000}; /* the card may still be connecting to vpcd */
      nanosleep(&pause, NULL);
    }
  }
  if (rv != SCARD_S_SUCCESS) {
    fprintf(stderr, "cannot connect to %s: %s\n", reader, pcsc_stringify_error(rv));
    return 1;
  }
  const SCARD_IO_REQUEST *pci = protocol == SCARD_PROTOCOL_T0 ? SCARD_PCI_T0 : SCARD_PCI_T1;

  /* READ RECORD by SFI and the PIN query need the SSSE; SELECT MF runs last. */
  static const uint8_t select_ssse[] = {0x00, 0xA4, 0x04, 0x0C, 0x0F, 0x73, 0x78, 0x31,
                                        0x2E, 0x73, 0x68, 0x2E, 0xC9, 0xE7, 0xBB, 0xE1,
                                        0xB1, 0xA3, 0xD5, 0xCF};
  static const uint8_t read_record[] = {0x00, 0xB2, 0x01, 0x2C, 0x12};
  static const uint8_t verify_query[] = {0x00, 0x20, 0x00, 0x00};
  static const uint8_t select_mf[] = {0x00, 0xA4, 0x00, 0x0C, 0x02, 0x3F, 0x00};
  struct {
    const char *name;
    const uint8_t *apdu;
    size_t len;
  } workloads[] = {
      {"READ RECORD EF05/1 (00B2012C12)", read_record, sizeof read_record},
      {"VERIFY query (0020000000)", verify_query, sizeof verify_query},
      {"SELECT MF (00A4000C023F00)", select_mf, sizeof select_mf},
  };
  if (in_process(card, select_ssse, sizeof select_ssse) != 0x9000 ||
      over_pcsc(handle, pci, select_ssse, sizeof select_ssse) != 0x9000) {
    fprintf(stderr, "SELECT SSSE failed\n");
    return 1;
  }
  double *local = calloc(blocks, sizeof *local), *remote = calloc(blocks, sizeof *remote);
  if (local == NULL || remote == NULL) return 1;
  printf("C: %zu APDUs per path per workload, blocks of %d, alternating\n", blocks * BLOCK,
         BLOCK);
  printf("%-34s %12s %12s %14s\n", "workload", "in-process", "PC/SC", "in-proc/PC/SC");
  for (size_t w = 0; w < sizeof workloads / sizeof *workloads; w++) {
    int want = in_process(card, workloads[w].apdu, workloads[w].len);
    if (want < 0 || over_pcsc(handle, pci, workloads[w].apdu, workloads[w].len) != want) {
      fprintf(stderr, "%s: the two paths disagree\n", workloads[w].name);
      return 1;
    }
    for (int i = 0; i < 200; i++) { /* warm-up */
      in_process(card, workloads[w].apdu, workloads[w].len);
      over_pcsc(handle, pci, workloads[w].apdu, workloads[w].len);
    }
    for (size_t b = 0; b < blocks; b++) {
      double t0 = now_ns();
      for (int i = 0; i < BLOCK; i++)
        if (in_process(card, workloads[w].apdu, workloads[w].len) != want) return 1;
      double t1 = now_ns();
      for (int i = 0; i < BLOCK; i++)
        if (over_pcsc(handle, pci, workloads[w].apdu, workloads[w].len) != want) return 1;
      double t2 = now_ns();
      local[b] = (t1 - t0) / BLOCK;
      remote[b] = (t2 - t1) / BLOCK;
    }
    double l = median(local, blocks), r = median(remote, blocks);
    printf("%-34s %9.3f us %9.1f us %14.5f  (PC/SC %.0fx slower)\n", workloads[w].name,
           l / 1e3, r / 1e3, l / r, r / l);
  }
  SCardDisconnect(handle, SCARD_LEAVE_CARD);
  SCardReleaseContext(context);
  sscard_card_free(card);
  free(local);
  free(remote);
  return 0;
}
