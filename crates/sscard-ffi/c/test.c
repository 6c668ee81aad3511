/* test.c: the C ABI as a C caller sees it, linked against libsscard_ffi.so.
 * Built and run by scripts/ffi-c.sh (in scripts/test). Prints "N passed, M failed". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sscard.h"

static int passed, failed;

#define CHECK(cond)                                                                  \
  do {                                                                               \
    if (cond) {                                                                      \
      passed++;                                                                      \
    } else {                                                                         \
      char message_[256] = "";                                                       \
      sscard_last_error_message(message_, sizeof message_, NULL);                    \
      fprintf(stderr, "%s:%d: FAILED: %s (last error: %s)\n", __FILE__, __LINE__, #cond, \
              message_);                                                             \
      failed++;                                                                      \
    }                                                                                \
  } while (0)

#define CHECK_STATUS(call, want) CHECK((call) == (want))

static const uint8_t SELECT_SSSE[] = {0x00, 0xA4, 0x04, 0x0C, 0x0F, 0x73, 0x78, 0x31,
                                      0x2E, 0x73, 0x68, 0x2E, 0xC9, 0xE7, 0xBB, 0xE1,
                                      0xB1, 0xA3, 0xD5, 0xCF};
static const uint8_t VERIFY_OK[] = {0x00, 0x20, 0x00, 0x00, 0x03, 0x12, 0x34, 0x56};
static const uint8_t VERIFY_BAD[] = {0x00, 0x20, 0x00, 0x00, 0x03, 0x99, 0x99, 0x99};
static const uint8_t VERIFY_QUERY[] = {0x00, 0x20, 0x00, 0x00};
static const uint8_t GET_CHALLENGE[] = {0x00, 0x84, 0x00, 0x00, 0x08};

static uint8_t response[SSCARD_MAX_RESPONSE];
static size_t response_len;

/* The status word of one exchange, or -status on an ABI error. */
static int sw_of(SscardCard *card, const uint8_t *apdu, size_t len) {
  int32_t status = sscard_transmit(card, apdu, len, response, sizeof response, &response_len);
  if (status != SSCARD_OK) return -status;
  if (response_len < 2) return -100;
  return (response[response_len - 2] << 8) | response[response_len - 1];
}

static void test_session(void) {
  SscardCard *card = NULL;
  uint8_t atr[33];
  size_t atr_len = 0;
  uint8_t powered = 9;

  CHECK_STATUS(sscard_card_new(NULL, SSCARD_FLAG_SEED, 42, &card), SSCARD_OK);
  CHECK(card != NULL);
  CHECK_STATUS(sscard_is_powered(card, &powered), SSCARD_OK);
  CHECK(powered == 0);
  /* Unpowered: no exchange, but the reader still knows the ATR. */
  CHECK(sw_of(card, SELECT_SSSE, sizeof SELECT_SSSE) == -SSCARD_ERROR_NOT_POWERED);
  CHECK_STATUS(sscard_atr(card, atr, sizeof atr, &atr_len), SSCARD_OK);
  CHECK(atr_len > 4 && atr[0] == 0x3B && atr[1] == 0x6D);

  CHECK_STATUS(sscard_power_on(card, atr, sizeof atr, &atr_len), SSCARD_OK);
  CHECK(atr_len > 4 && atr[0] == 0x3B && atr[1] == 0x6D);
  CHECK_STATUS(sscard_power_on(card, NULL, 0, NULL), SSCARD_OK); /* ATR not wanted */
  CHECK(sw_of(card, SELECT_SSSE, sizeof SELECT_SSSE) == 0x9000);
  CHECK(sw_of(card, VERIFY_QUERY, sizeof VERIFY_QUERY) == 0x63C3);
  CHECK(sw_of(card, VERIFY_OK, sizeof VERIFY_OK) == 0x9000);
  /* Two challenges differ, and with the same seed a second card repeats them. */
  CHECK(sw_of(card, GET_CHALLENGE, sizeof GET_CHALLENGE) == 0x9000 && response_len == 10);
  uint8_t first[8];
  memcpy(first, response, 8);

  SscardCard *twin = NULL;
  CHECK_STATUS(sscard_card_new(NULL, SSCARD_FLAG_SEED, 42, &twin), SSCARD_OK);
  CHECK_STATUS(sscard_power_on(twin, NULL, 0, NULL), SSCARD_OK);
  CHECK(sw_of(twin, SELECT_SSSE, sizeof SELECT_SSSE) == 0x9000);
  CHECK(sw_of(twin, VERIFY_OK, sizeof VERIFY_OK) == 0x9000);
  CHECK(sw_of(twin, GET_CHALLENGE, sizeof GET_CHALLENGE) == 0x9000);
  CHECK(memcmp(first, response, 8) == 0);
  CHECK_STATUS(sscard_card_free(twin), SSCARD_OK);

  /* Reset wipes the security state: the PIN must be presented again. */
  CHECK_STATUS(sscard_reset(card, atr, sizeof atr, &atr_len), SSCARD_OK);
  CHECK(sw_of(card, SELECT_SSSE, sizeof SELECT_SSSE) == 0x9000);
  /* DF01 record 1 is PIN-protected in the default profile. */
  static const uint8_t select_df01[] = {0x00, 0xA4, 0x04, 0x0C, 0x06, 0xD1,
                                        0x56, 0x00, 0x00, 0x05, 0x00};
  static const uint8_t read_df01[] = {0x00, 0xB2, 0x01, 0x2C, 0x04};
  CHECK(sw_of(card, select_df01, sizeof select_df01) == 0x9000);
  CHECK(sw_of(card, read_df01, sizeof read_df01) == 0x6982);

  /* Contactless: other ATR, power lost on the move. */
  CHECK_STATUS(sscard_set_interface(card, SSCARD_INTERFACE_CONTACTLESS), SSCARD_OK);
  CHECK_STATUS(sscard_is_powered(card, &powered), SSCARD_OK);
  CHECK(powered == 0);
  CHECK_STATUS(sscard_power_on(card, atr, sizeof atr, &atr_len), SSCARD_OK);
  CHECK(atr[0] == 0x3B && atr[1] == 0x8D && atr[2] == 0x80 && atr[3] == 0x01);
  CHECK_STATUS(sscard_set_interface(card, 7), SSCARD_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(sscard_power_off(card), SSCARD_OK);
  CHECK_STATUS(sscard_card_free(card), SSCARD_OK);
}

static void test_buffers_and_errors(void) {
  SscardCard *card = NULL;
  uint8_t small[4];
  size_t len = 0;
  char message[256];

  CHECK_STATUS(sscard_card_new(NULL, 0, 0, NULL), SSCARD_ERROR_NULL_POINTER);
  CHECK_STATUS(sscard_card_new(NULL, 0x80, 0, &card), SSCARD_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(sscard_card_new(NULL, SSCARD_FLAG_PERSIST, 0, &card),
               SSCARD_ERROR_INVALID_ARGUMENT); /* only images persist */
  CHECK_STATUS(sscard_card_new("/nonexistent/profile.toml", 0, 0, &card), SSCARD_ERROR_PROFILE);
  CHECK_STATUS(sscard_last_error_message(message, sizeof message, &len), SSCARD_OK);
  CHECK(strstr(message, "/nonexistent/profile.toml") != NULL && len == strlen(message));
  CHECK_STATUS(sscard_last_error_message(message, 5, &len), SSCARD_ERROR_BUFFER_TOO_SMALL);
  CHECK(strlen(message) == 4 && len > 4);
  CHECK(strcmp(sscard_status_message(SSCARD_ERROR_PROFILE), "profile error") == 0);
  CHECK(strcmp(sscard_status_message(12345), "unknown status") == 0);
  CHECK_STATUS(sscard_card_open_image(NULL, 0, 0, &card), SSCARD_ERROR_NULL_POINTER);

  CHECK_STATUS(sscard_card_new(NULL, 0, 0, &card), SSCARD_OK);
  CHECK_STATUS(sscard_power_on(card, small, sizeof small, &len), SSCARD_ERROR_BUFFER_TOO_SMALL);
  CHECK(len > sizeof small); /* the size needed */
  CHECK(sw_of(card, SELECT_SSSE, sizeof SELECT_SSSE) == 0x9000);
  /* A response that does not fit: the length needed, then the same bytes again. */
  static const uint8_t read_ef05[] = {0x00, 0xB2, 0x01, 0x2C, 0x12};
  CHECK_STATUS(sscard_transmit(card, read_ef05, sizeof read_ef05, small, sizeof small, &len),
               SSCARD_ERROR_BUFFER_TOO_SMALL);
  CHECK(len == 0x12 + 2);
  CHECK_STATUS(sscard_last_response(card, response, sizeof response, &response_len), SSCARD_OK);
  CHECK(response_len == 0x12 + 2 && response[0] == 0x01 && response[1] == 0x10 &&
        response[response_len - 2] == 0x90);
  CHECK_STATUS(sscard_transmit(card, NULL, 4, response, sizeof response, &len),
               SSCARD_ERROR_NULL_POINTER);
  CHECK_STATUS(sscard_transmit(card, SELECT_SSSE, sizeof SELECT_SSSE, NULL, 10, &len),
               SSCARD_ERROR_NULL_POINTER);
  CHECK_STATUS(sscard_transmit(card, SELECT_SSSE, sizeof SELECT_SSSE, response, 10, NULL),
               SSCARD_ERROR_NULL_POINTER);
  /* Malformed APDUs get a status word, never a crash. */
  static const uint8_t short_apdu[] = {0x00, 0xA4};
  CHECK(sw_of(card, short_apdu, sizeof short_apdu) == 0x6700);
  CHECK(sw_of(card, NULL, 0) == 0x6700);
  uint8_t garbage[300];
  for (size_t i = 0; i < sizeof garbage; i++) garbage[i] = (uint8_t)(i * 37 + 11);
  for (size_t n = 0; n <= sizeof garbage; n += 7) CHECK(sw_of(card, garbage, n) > 0);

  /* Handles: NULL, freed and forged ones are refused without being dereferenced. */
  CHECK_STATUS(sscard_card_free(card), SSCARD_OK);
  CHECK_STATUS(sscard_card_free(card), SSCARD_ERROR_INVALID_HANDLE);
  CHECK(sw_of(card, SELECT_SSSE, sizeof SELECT_SSSE) == -SSCARD_ERROR_INVALID_HANDLE);
  CHECK_STATUS(sscard_power_on(NULL, NULL, 0, NULL), SSCARD_ERROR_INVALID_HANDLE);
  CHECK_STATUS(sscard_power_off((SscardCard *)(uintptr_t)0xdead0), SSCARD_ERROR_INVALID_HANDLE);
  CHECK_STATUS(sscard_card_free(NULL), SSCARD_OK);
}

/* The card of the image at `path` (opened with `flags`), powered on, in the SSSE. */
static SscardCard *open_in_ssse(const char *path, uint32_t flags) {
  SscardCard *card = NULL;
  CHECK_STATUS(sscard_card_open_image(path, flags, 0, &card), SSCARD_OK);
  CHECK_STATUS(sscard_power_on(card, NULL, 0, NULL), SSCARD_OK);
  CHECK(sw_of(card, SELECT_SSSE, sizeof SELECT_SSSE) == 0x9000);
  return card;
}

static void test_images_and_trace(const char *dir) {
  char image[512], persistent[512];
  snprintf(image, sizeof image, "%s/card.img", dir);
  snprintf(persistent, sizeof persistent, "%s/persistent.img", dir);
  SscardCard *card = NULL, *again = NULL;
  char trace[4096];
  size_t len = 0;

  CHECK_STATUS(sscard_card_new(NULL, 0, 0, &card), SSCARD_OK);
  CHECK_STATUS(sscard_trace_start(card, 9), SSCARD_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(sscard_trace_start(card, SSCARD_TRACE_TEXT), SSCARD_OK);
  CHECK_STATUS(sscard_power_on(card, NULL, 0, NULL), SSCARD_OK);
  CHECK(sw_of(card, SELECT_SSSE, sizeof SELECT_SSSE) == 0x9000);
  CHECK(sw_of(card, VERIFY_BAD, sizeof VERIFY_BAD) == 0x63C2);
  /* The trace names the commands and masks the PIN. */
  CHECK_STATUS(sscard_trace_read(card, trace, sizeof trace - 1, &len), SSCARD_OK);
  trace[len] = 0;
  CHECK(strstr(trace, "power-on") != NULL && strstr(trace, "SELECT") != NULL);
  CHECK(strstr(trace, "VERIFY") != NULL && strstr(trace, "999999") == NULL);
  CHECK_STATUS(sscard_trace_read(card, trace, sizeof trace, &len), SSCARD_OK);
  CHECK(len == 0); /* taken */
  CHECK(sw_of(card, VERIFY_QUERY, sizeof VERIFY_QUERY) == 0x63C2);
  CHECK_STATUS(sscard_trace_read(card, trace, 3, &len), SSCARD_ERROR_BUFFER_TOO_SMALL);
  CHECK(len > 3);
  CHECK_STATUS(sscard_trace_read(card, trace, len, &len), SSCARD_OK);

  /* A snapshot keeps the try counter; the card loaded from it starts from there. */
  CHECK_STATUS(sscard_save_image(card, image), SSCARD_OK);
  again = open_in_ssse(image, 0);
  CHECK(sw_of(again, VERIFY_QUERY, sizeof VERIFY_QUERY) == 0x63C2);
  CHECK(sw_of(again, VERIFY_BAD, sizeof VERIFY_BAD) == 0x63C1);
  CHECK_STATUS(sscard_card_free(again), SSCARD_OK);
  /* Without SSCARD_FLAG_PERSIST the image was only read. */
  again = open_in_ssse(image, 0);
  CHECK(sw_of(again, VERIFY_QUERY, sizeof VERIFY_QUERY) == 0x63C2);
  CHECK_STATUS(sscard_card_free(again), SSCARD_OK);

  /* With it, every change is on disk before the answer. */
  CHECK_STATUS(sscard_save_image(card, persistent), SSCARD_OK);
  again = open_in_ssse(persistent, SSCARD_FLAG_PERSIST);
  CHECK(sw_of(again, VERIFY_BAD, sizeof VERIFY_BAD) == 0x63C1);
  /* One card serves an image at a time: a second one, or a snapshot over it, is refused. */
  SscardCard *second = NULL;
  CHECK_STATUS(sscard_card_open_image(persistent, SSCARD_FLAG_PERSIST, 0, &second),
               SSCARD_ERROR_IMAGE);
  CHECK_STATUS(sscard_save_image(card, persistent), SSCARD_ERROR_IMAGE);
  CHECK_STATUS(sscard_save_image(again, persistent), SSCARD_OK); /* its own image */
  CHECK_STATUS(sscard_card_free(again), SSCARD_OK);
  CHECK_STATUS(sscard_card_open_image(persistent, SSCARD_FLAG_PERSIST, 0, &second), SSCARD_OK);
  CHECK_STATUS(sscard_card_free(second), SSCARD_OK);
  again = open_in_ssse(persistent, 0);
  CHECK(sw_of(again, VERIFY_QUERY, sizeof VERIFY_QUERY) == 0x63C1);
  CHECK_STATUS(sscard_card_free(again), SSCARD_OK);

  /* Not an image: refused with a message. */
  char bogus[512];
  snprintf(bogus, sizeof bogus, "%s/bogus.img", dir);
  FILE *f = fopen(bogus, "wb");
  if (f != NULL) {
    fputs("not a card image\n", f);
    fclose(f);
  }
  CHECK_STATUS(sscard_card_open_image(bogus, 0, 0, &again), SSCARD_ERROR_IMAGE);
  char nowhere[600];
  snprintf(nowhere, sizeof nowhere, "%s/missing-dir/card.img", dir);
  CHECK_STATUS(sscard_save_image(card, nowhere), SSCARD_ERROR_IO);
  CHECK_STATUS(sscard_card_free(card), SSCARD_OK);
  remove(image);
  remove(persistent);
  remove(bogus);
  /* The lock files beside the images. */
  char lock[600];
  snprintf(lock, sizeof lock, "%s/.card.img.lock", dir);
  remove(lock);
  snprintf(lock, sizeof lock, "%s/.persistent.img.lock", dir);
  remove(lock);
}

int main(void) {
  char dir[] = "/tmp/sscard-ffi-test.XXXXXX";
  if (mkdtemp(dir) == NULL) {
    perror("mkdtemp");
    return EXIT_FAILURE;
  }
  test_session();
  test_buffers_and_errors();
  test_images_and_trace(dir);
  rmdir(dir);
  printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
