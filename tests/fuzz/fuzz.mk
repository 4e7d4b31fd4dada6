# Fuzzing, included by the Makefile.
#
#   make fuzz        build the libFuzzer target tests/fuzz/fuzz_title.c with
#                    clang (ASan + UBSan) in build/fuzz and run it for
#                    FUZZ_SECONDS (default 300) in FUZZ_JOBS processes, from
#                    the corpus build/fuzz/corpus seeded with the files of
#                    MEDIA up to FUZZ_MAX_LEN bytes; every new crash, leak,
#                    timeout or out-of-memory input is kept in tests/fuzz/regress
#   make fuzz-mount  mount copies of MEDIA's files mutated by zzuf (fixed
#                    seeds) with the sanitizer build and read every playlist
#                    and segment (tests/fuzz/mount.py; FUZZ_MOUNT_ARGS= more
#                    options, e.g. --seeds 1-8)
#   make check       replays every input of tests/fuzz/regress with
#                    build/*/tests/fuzz_replay (always ASan + UBSan) and
#                    runs a short fuzz-mount (tests/run.sh)

FUZZ_SECONDS ?= 300
FUZZ_JOBS    ?= 2
FUZZ_MAX_LEN ?= 131072
FUZZ_TIMEOUT ?= 30
FUZZ_RSS_MB  ?= 3072
CLANG        ?= clang

FUZZ_BUILD   = build/fuzz
FUZZ_REGRESS = tests/fuzz/regress
FUZZ_MODS    = $(filter-out face/main face/fs,$(SRCS:src/%.c=%))
FUZZ_SAN     = -fsanitize=address,undefined -fno-sanitize-recover=undefined \
               -fno-omit-frame-pointer
FUZZ_OBJS    = $(FUZZ_MODS:%=$(FUZZ_BUILD)/%.o)

$(FUZZ_BUILD)/%.o: src/%.c $(wildcard include/hlsfs/*.h)
	@mkdir -p $(@D)
	$(CLANG) $(CPPFLAGS_ALL) -O1 -g $(FUZZ_SAN) -fsanitize=fuzzer-no-link $(WARN) -c -o $@ $<

$(FUZZ_BUILD)/fuzz_title: tests/fuzz/fuzz_title.c $(FUZZ_OBJS)
	$(CLANG) $(CPPFLAGS_ALL) -O1 -g $(FUZZ_SAN) -fsanitize=fuzzer $(WARN) -o $@ $^ $(LIBS)

# seeds are copied at run time, not kept in git; the corpus grows across runs
fuzz: $(FUZZ_BUILD)/fuzz_title
	@mkdir -p $(FUZZ_BUILD)/seeds $(FUZZ_BUILD)/corpus $(FUZZ_BUILD)/artifacts $(FUZZ_REGRESS)
	find $(MEDIA)/ -maxdepth 1 -type f ! -name '*.md' -size -$$(($(FUZZ_MAX_LEN) + 1))c \
	  -exec cp -f {} $(FUZZ_BUILD)/seeds/ \;
	cd $(FUZZ_BUILD) && ./fuzz_title -fork=$(FUZZ_JOBS) -ignore_crashes=1 \
	  -ignore_timeouts=1 -ignore_ooms=1 -max_total_time=$(FUZZ_SECONDS) \
	  -max_len=$(FUZZ_MAX_LEN) -timeout=$(FUZZ_TIMEOUT) -rss_limit_mb=$(FUZZ_RSS_MB) \
	  -artifact_prefix=artifacts/ -print_final_stats=1 corpus seeds
	@new=0; for f in $(FUZZ_BUILD)/artifacts/crash-* $(FUZZ_BUILD)/artifacts/timeout-* \
	    $(FUZZ_BUILD)/artifacts/oom-* $(FUZZ_BUILD)/artifacts/leak-*; do \
	  [ -f "$$f" ] || continue; \
	  if [ -e $(FUZZ_REGRESS)/$${f##*/} ]; then rm -f "$$f"; continue; fi; \
	  mv "$$f" $(FUZZ_REGRESS)/ && new=$$((new + 1)) && echo "new regression input: $(FUZZ_REGRESS)/$${f##*/}"; \
	done; echo "fuzz: $$new new regression input(s) in $(FUZZ_REGRESS)"

# The replay of make check: the target with a main() of its own (replay.c),
# built with $(CC), always under ASan and UBSan.
FUZZ_REPLAY = $(BUILD)/tests/fuzz_replay
ifeq ($(SANITIZE),1)
$(FUZZ_REPLAY): tests/fuzz/replay.c tests/fuzz/fuzz_title.c $(call objs_of,$(FUZZ_MODS)) | $(BUILD)
	$(CC) $(CPPFLAGS_ALL) $(CFLAGS) $(WARN) $(LDFLAGS) -o $@ $(filter %.c %.o,$^) $(LIBS)
else
$(FUZZ_REPLAY): fuzz-replay-san | $(BUILD)
	cp build/san/tests/fuzz_replay $@
fuzz-replay-san:
	@$(MAKE) --no-print-directory SANITIZE=1 build/san/tests/fuzz_replay
endif
check: $(FUZZ_REPLAY)

fuzz-mount:
	@$(MAKE) --no-print-directory SANITIZE=1 build/san/hlsfs
	python3 tests/fuzz/mount.py --hlsfs build/san/hlsfs --media $(MEDIA) $(FUZZ_MOUNT_ARGS)
