# hlsfs: plain Makefile with pkg-config.
#   make                 build ./hlsfs
#   make unit            build and run the unit tests (T=name, CASE=prefix)
#   make check           unit, integration and end-to-end tests (root, /dev/fuse)
#   make check SANITIZE=1  the same under ASan + UBSan
#   make e2e             only the end-to-end client tests (nginx, Chromium,
#                        GStreamer, ffmpeg, rsync)
#   make fuzz            the libFuzzer target (clang) for FUZZ_SECONDS (default
#                        300); new crashers go to tests/fuzz/regress, which
#                        make check replays (tests/fuzz/fuzz.mk)
#   make fuzz-mount      zzuf-mutated media mounted with the sanitizer build,
#                        every playlist and segment read
#   make install         PREFIX=/usr/local, DESTDIR honoured
#   make deps            install Debian build and test packages
#   make demo            mount a demo media directory (SOURCE=, MOUNT=)

PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man
VERSION  = 0.1.0

PKGS     = fuse3 libavformat libavcodec libavutil libswscale libswresample libavfilter lmdb
CC      ?= cc
CFLAGS  ?= -O2 -g
WARN     = -Wall -Wextra -Wshadow -Wno-unused-parameter
# the libfuse API every file is compiled against, defined here only: 3.12
# (main.c's fuse_loop_cfg_*)
FUSE_API = 312
CPPFLAGS_ALL = -std=gnu11 -D_GNU_SOURCE -Iinclude -DHLSFS_VERSION='"$(VERSION)"' \
               -DFUSE_USE_VERSION=$(FUSE_API) \
               $(shell pkg-config --cflags $(PKGS))
LIBS     = $(shell pkg-config --libs $(PKGS)) -lpthread -lm

ifeq ($(SANITIZE),1)
# float-cast-overflow (a double out of an int's range cast to it) is not
# part of 'undefined' in GCC
SAN      = address,undefined,float-cast-overflow
CFLAGS  += -fsanitize=$(SAN) -fno-omit-frame-pointer -fno-sanitize-recover=undefined,float-cast-overflow
LDFLAGS += -fsanitize=$(SAN)
BUILD    = build/san
else
BUILD    = build/rel
endif

# the layers, top to bottom: face title sched make format store, and base
LAYERS = face title sched make format store base
SRCS = $(foreach l,$(LAYERS),$(wildcard src/$(l)/*.c))
OBJS = $(SRCS:src/%.c=$(BUILD)/%.o)

# each unit test links only the modules it tests (and $(LIBS), or
# test_X_LIBS when it has its own)
UNIT_TESTS = vpath plan playlist ladder budget session audio cache title opts optdoc mux record tssize h264 vfilter subtitle trick fmp4
test_vpath_MODS    = title/vpath
test_plan_MODS     = title/plan
test_playlist_MODS = title/playlist title/vpath
test_ladder_MODS   = title/ladder format/tssize
test_budget_MODS   = title/budget title/ladder format/tssize
test_session_MODS  = sched/session base/log
# the scheduler stores through an interface: its test uses a fake in
# memory, and links neither the store nor LMDB (libavutil: log.c's)
test_session_LIBS  = $(shell pkg-config --libs libavutil) -lpthread -lm
test_cache_MODS    = store/cache store/evict store/segstore base/log
test_cache_LDFLAGS = -Wl,--wrap=cache_segments_del
test_session_LDFLAGS = -Wl,--wrap=pthread_condattr_setclock
test_title_LDFLAGS = -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=free
test_audio_MODS    = make/audio make/source title/probe title/subtitle title/playlist title/vpath base/log make/workbound format/fmp4
test_opts_MODS     = face/opts title/ladder format/tssize
# test_optdoc reads README.md and man/hlsfs.1 from the source tree
test_optdoc_MODS   = face/opts title/ladder format/tssize
test_optdoc_CFLAGS = -DHLSFS_TOP='"$(CURDIR)"'
test_mux_MODS      = format/mux format/fmp4
test_tssize_MODS   = format/tssize format/mux format/fmp4
test_record_MODS   = title/subtitle title/record title/title title/budget title/h264 title/hls title/trick title/framerate title/probe make/source make/workbound make/vfilter title/plan \
                     title/ladder title/playlist title/vpath format/mux format/tssize base/log \
                     title/cmaf format/fmp4 make/audio
test_h264_MODS     = title/h264
test_vfilter_MODS  = make/vfilter
test_subtitle_MODS = title/subtitle title/playlist title/vpath base/log
test_trick_MODS    = title/trick title/budget title/ladder title/h264 title/vpath format/tssize format/jpegpad
test_fmp4_MODS     = format/fmp4 format/mux
test_title_MODS    = title/subtitle make/source make/vfilter title/library store/cache store/evict title/record title/title title/budget title/h264 title/hls title/trick title/framerate title/probe title/plan title/ladder title/playlist title/vpath \
                     make/transcode make/remux format/mux format/tssize make/demux make/workbound base/log \
                     title/cmaf format/fmp4 make/audio make/segmux
UNIT_BINS = $(UNIT_TESTS:%=$(BUILD)/tests/test_%)

.PHONY: all hlsfs check unit unit-bins integration e2e e2e-deps install uninstall deps demo undemo clean bench \
        fuzz fuzz-mount fuzz-replay-san
all: hlsfs

hlsfs: $(BUILD)/hlsfs
	cp $< $@.tmp && mv -f $@.tmp $@

$(BUILD)/hlsfs: $(OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/%.o: src/%.c $(wildcard include/hlsfs/*.h) | $(BUILD)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS_ALL) $(CFLAGS) $(WARN) -c -o $@ $<

$(BUILD):
	mkdir -p $(BUILD)/tests

objs_of = $(addprefix $(BUILD)/,$(addsuffix .o,$(1)))
.SECONDEXPANSION:
$(BUILD)/tests/test_%: tests/unit/test_%.c tests/unit/check.h $$(call objs_of,$$(test_$$*_MODS)) | $(BUILD)
	$(CC) $(CPPFLAGS_ALL) $(CFLAGS) $(WARN) $(test_$*_CFLAGS) $(LDFLAGS) $(test_$*_LDFLAGS) -o $@ $< $(filter %.o,$^) $(or $(test_$*_LIBS),$(LIBS))

# make unit: build and run every unit test (no root, /dev/fuse or npm);
# make unit T=session: only test_session; CASE=prefix: only its cases whose
# names start with prefix (the same as build/rel/tests/test_session prefix)
unit-bins: $(UNIT_BINS)

unit: $(if $(T),$(BUILD)/tests/test_$(T),$(UNIT_BINS))
ifeq ($(T),)
	@tests/run_test.sh
	@tests/run.sh $(BUILD)/tests ./hlsfs ""
else
	@$(BUILD)/tests/test_$(T) $(CASE)
endif

include tests/fuzz/fuzz.mk

# the cache churn benchmark of make bench, linked with the cache modules
CHURN_MODS = store/cache store/evict base/log
$(BUILD)/bench/churn: bench/churn.c $(call objs_of,$(CHURN_MODS)) | $(BUILD)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS_ALL) $(CFLAGS) $(WARN) $(LDFLAGS) -o $@ $< $(filter %.o,$^) $(LIBS)

check: hlsfs unit-bins e2e-deps
	@tests/run_test.sh
	@tests/run.sh $(BUILD)/tests ./hlsfs

# the end-to-end tests' npm packages (playwright-core, hls.js), pinned by
# tests/e2e/package-lock.json; installed again only when that changes
E2E_DIR = tests/e2e
MEDIA  ?= $(CURDIR)/../shared/media
e2e-deps: $(E2E_DIR)/node_modules/.package-lock.json

$(E2E_DIR)/node_modules/.package-lock.json: $(E2E_DIR)/package.json $(E2E_DIR)/package-lock.json
	cd $(E2E_DIR) && npm ci --no-audit --no-fund
	touch $@

e2e: hlsfs e2e-deps
	python3 $(E2E_DIR)/run.py --hlsfs ./hlsfs --media $(MEDIA)

install: hlsfs
	install -D -m 0755 hlsfs $(DESTDIR)$(BINDIR)/hlsfs
	install -D -m 0644 man/hlsfs.1 $(DESTDIR)$(MANDIR)/man1/hlsfs.1

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/hlsfs $(DESTDIR)$(MANDIR)/man1/hlsfs.1

DEB_BUILD = build-essential pkg-config libfuse3-dev libavformat-dev \
            libavcodec-dev libavutil-dev libswscale-dev libswresample-dev \
            libavfilter-dev liblmdb-dev
DEB_TEST  = fuse3 ffmpeg python3 lmdb-utils zzuf \
            nginx chromium rsync gstreamer1.0-tools gstreamer1.0-plugins-base \
            gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-libav mediainfo
# node and npm for the end-to-end tests' browser driver: Debian's nodejs and
# npm, unless a node with npm is already installed (a nodejs package from
# elsewhere that bundles npm conflicts with Debian's npm)
DEB_NODE  = nodejs npm

deps:
	@missing=""; for p in $(DEB_BUILD) $(DEB_TEST); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	command -v npm >/dev/null 2>&1 || missing="$$missing $(DEB_NODE)"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

MOUNT  ?= $(CURDIR)/mnt
SOURCE ?=
demo: deps hlsfs
	@tests/demo.sh "$(SOURCE)" "$(MOUNT)" ./hlsfs

undemo:
	-fusermount3 -u "$(MOUNT)"

clean:
	rm -rf build hlsfs

# benchmarks against ffmpegfs, ffmpeg and ffprobe; writes bench/RESULTS.md
# (BENCH_RUNS=N runs per figure, BENCH_ONLY=1,4 for a subset)
bench: hlsfs $(BUILD)/bench/churn
	HLSFS_CHURN=$(BUILD)/bench/churn python3 bench/bench.py
