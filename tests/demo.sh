#!/bin/sh
# make demo: mount SOURCE (or a generated demo directory) at MOUNT in the
# background and print the master playlists to play.
# usage: tests/demo.sh SOURCE MOUNT HLSFS
set -eu
source=$1
mount=$2
hlsfs=$3
top=$(cd "$(dirname "$0")/.." && pwd)

if [ -z "$source" ]; then
    source=$top/demo-media
    if [ ! -e "$source/films/testcard.mp4" ]; then
        echo "generating a demo media directory in $source"
        mkdir -p "$source/films" "$source/shows/season 1"
        ffmpeg -v error -y -f lavfi -i testsrc2=s=640x360:r=24 \
            -f lavfi -i sine=f=440:r=48000 -t 30 -c:v libx264 -preset veryfast \
            -g 48 -c:a aac -b:a 128k "$source/films/testcard.mp4"
        ffmpeg -v error -y -f lavfi -i smptehdbars=s=640x360:r=25 \
            -f lavfi -i sine=f=220:r=48000 -t 20 -c:v libx264 -preset veryfast \
            -g 50 -c:a aac -b:a 96k -metadata:s:a:0 language=eng \
            "$source/shows/season 1/episode 1.mkv"
        printf 'hlsfs demo\n' >"$source/README.txt"
    fi
fi
mkdir -p "$mount"
if mountpoint -q "$mount"; then
    echo "$mount is already mounted (make undemo MOUNT=$mount unmounts it)"
else
    "$hlsfs" "$source" "$mount"
fi
echo "mounted $source at $mount; play one of:"
find "$mount" -name master.m3u8 2>/dev/null | sed 's/^/  /'
echo "unmount with: make undemo MOUNT=$mount"
