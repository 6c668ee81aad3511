/* example.c: a terminal harness driving the sscard card in-process through the C ABI.
 *
 * Reads the social security application's card number as a PC/SC terminal would: power
 * on, SELECT the SSSE (T=0: 61xx, then GET RESPONSE), READ RECORD with Le = 00 (the card
 * answers 6Cxx with the length, the terminal resends), then prints the annotated trace.
 *
 *   cc -I crates/sscard-ffi/include crates/sscard-ffi/c/example.c \
 *      target/debug/libsscard_ffi.a -lpthread -ldl -lm -o example && ./example
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sscard.h"

static int fail(const char *what, int32_t status) {
  char message[256];
  sscard_last_error_message(message, sizeof message, NULL);
  fprintf(stderr, "%s: %s (%s)\n", what, sscard_status_message(status), message);
  return EXIT_FAILURE;
}

static void print_hex(const char *label, const uint8_t *bytes, size_t len) {
  printf("%s", label);
  for (size_t i = 0; i < len; i++) printf("%02X", bytes[i]);
  printf("\n");
}

/* Sends an APDU; returns the status word, or -1 after printing the error. */
static int send(SscardCard *card, const uint8_t *apdu, size_t apdu_len, uint8_t *response,
                size_t *response_len) {
  int32_t status = sscard_transmit(card, apdu, apdu_len, response, SSCARD_MAX_RESPONSE,
                                   response_len);
  if (status != SSCARD_OK) {
    fail("transmit", status);
    return -1;
  }
  return (response[*response_len - 2] << 8) | response[*response_len - 1];
}

int main(void) {
  /* "sx1.sh.社会保障" in GBK: the SSSE's DF name. */
  static const uint8_t select_ssse[] = {0x00, 0xA4, 0x04, 0x00, 0x0F, 0x73, 0x78, 0x31,
                                        0x2E, 0x73, 0x68, 0x2E, 0xC9, 0xE7, 0xBB, 0xE1,
                                        0xB1, 0xA3, 0xD5, 0xCF, 0x00};
  uint8_t *response = malloc(SSCARD_MAX_RESPONSE);
  uint8_t atr[33];
  size_t atr_len = 0, len = 0;
  SscardCard *card = NULL;
  int32_t status;

  if (response == NULL) return EXIT_FAILURE;
  printf("sscard %s\n", sscard_version());
  status = sscard_card_new(NULL, 0, 0, &card); /* NULL: the default gen-3 card */
  if (status != SSCARD_OK) return fail("card", status);
  sscard_trace_start(card, SSCARD_TRACE_TEXT);
  status = sscard_power_on(card, atr, sizeof atr, &atr_len);
  if (status != SSCARD_OK) return fail("power on", status);
  print_hex("ATR ", atr, atr_len);

  int sw = send(card, select_ssse, sizeof select_ssse, response, &len);
  if ((sw & 0xFF00) == 0x6100) { /* T=0: the FCI waits for GET RESPONSE */
    uint8_t get_response[] = {0x00, 0xC0, 0x00, 0x00, (uint8_t)(sw & 0xFF)};
    sw = send(card, get_response, sizeof get_response, response, &len);
  }
  if (sw != 0x9000) return EXIT_FAILURE;
  print_hex("SSSE FCI ", response, len - 2);

  /* EF05 (SFI 5) record 07: the social security card number. */
  uint8_t read_record[] = {0x00, 0xB2, 0x07, (5 << 3) | 4, 0x00};
  sw = send(card, read_record, sizeof read_record, response, &len);
  if ((sw & 0xFF00) == 0x6C00) { /* wrong length: resend with the one the card gave */
    read_record[4] = (uint8_t)(sw & 0xFF);
    sw = send(card, read_record, sizeof read_record, response, &len);
  }
  if (sw != 0x9000 || len < 4) return EXIT_FAILURE;
  printf("card number %.*s\n", (int)(len - 4), (const char *)response + 2);

  sscard_power_off(card);
  printf("--- trace ---\n");
  char trace[4096];
  size_t trace_len = 0;
  while (sscard_trace_read(card, trace, sizeof trace, &trace_len) == SSCARD_OK && trace_len > 0)
    fwrite(trace, 1, trace_len, stdout);
  sscard_card_free(card);
  free(response);
  return EXIT_SUCCESS;
}
