#!/bin/bash
# tests/integration/media_cli.sh — `pirogue media` end to end: encode/decode/transcode/quality on
# the reference clips, cross-checked against ffmpeg (its own VP8 decoder and its psnr filter),
# usage and refusal exit codes.
. "$(dirname "$0")/lib.bash"

[ -x "$PIROGUE" ] || { echo "skipped: $PIROGUE not built"; exit 77; }
MEDIA=$VECTORS/media
CLIP=$MEDIA/CiscoVT2people_320x192_12fps.y4m
[ -f "$CLIP" ] || { echo "not ok vectors — $CLIP missing"; exit 1; }
HAVE_FFMPEG=1
command -v ffmpeg >/dev/null 2>&1 || HAVE_FFMPEG=0
T=$(mktemp -d /tmp/pirogue-media-XXXXXX)
trap 'rm -rf "$T"' EXIT

# run EXPECTED_STATUS CMD... — runs, keeps stdout/stderr in $T/out $T/err, checks the status.
run() {
	local want=$1; shift
	"$@" >"$T/out" 2>"$T/err"
	local rc=$?
	[ "$rc" -eq "$want" ] || { echo "# exit $rc, wanted $want: $*"; sed 's/^/# /' "$T/err"; return 1; }
}
err_has() { grep -q -- "$1" "$T/err" || { echo "# stderr lacks '$1':"; sed 's/^/# /' "$T/err"; return 1; }; }
out_has() { grep -q -- "$1" "$T/out" || { echo "# stdout lacks '$1':"; sed 's/^/# /' "$T/out"; return 1; }; }

# ---- usage ----
check help_exits_0 run 0 "$PIROGUE" media --help
check help_lists_rungs out_has "360p-15"
check no_subcommand_exits_2 run 2 "$PIROGUE" media
check unknown_subcommand_exits_2 run 2 "$PIROGUE" media frobnicate --in x
check unknown_subcommand_prefixed err_has "^pirogue media: "
check missing_out_exits_2 run 2 "$PIROGUE" media encode --in "$CLIP"
check bad_rung_exits_2 run 2 "$PIROGUE" media encode --in "$CLIP" --out "$T/x.ivf" --rung nosuch
check audio_rung_for_video_exits_2 run 2 "$PIROGUE" media encode --in "$CLIP" --out "$T/x.ivf" --rung audio-16k
check bad_size_exits_2 run 2 "$PIROGUE" media encode --in "$CLIP" --out "$T/x.ivf" --bitrate 100 --size 12x7
check no_rate_exits_2 run 2 "$PIROGUE" media encode --in "$CLIP" --out "$T/x.ivf"

# ---- video round trip at the clip's own size and rate ----
check encode_video run 0 "$PIROGUE" media encode --in "$CLIP" --out "$T/a.ivf" --bitrate 300
check encode_reports_frames out_has "9 frames (1 keyframes), 320x192 at 12/1 fps"
check decode_video run 0 "$PIROGUE" media decode --in "$T/a.ivf" --out "$T/a.y4m"
check quality_text run 0 "$PIROGUE" media quality --ref "$CLIP" --test "$T/a.y4m"
psnr=$(sed -n 's/^PSNR y \([0-9.]*\) .*/\1/p' "$T/out")
# Measured 36.45 dB at 300 kbit/s (libvpx 1.12, cpu-used -6); floor 34.5.
check quality_above_floor awk -v p="$psnr" 'BEGIN { exit !(p > 34.5) }'
check quality_json run 0 "$PIROGUE" media quality --ref "$CLIP" --test "$T/a.y4m" --json
check quality_json_has_frames out_has '"frames": 9'
check quality_json_per_frame out_has '"per_frame"'

if [ "$HAVE_FFMPEG" = 1 ]; then
	# ffmpeg's own VP8 decoder (not libvpx) must see exactly the pictures ours does.
	ffmpeg -nostdin -loglevel error -i "$T/a.ivf" -f rawvideo -pix_fmt yuv420p "$T/ff.yuv"
	ffmpeg -nostdin -loglevel error -i "$T/a.y4m" -f rawvideo -pix_fmt yuv420p "$T/ours.yuv"
	check ffmpeg_decodes_our_ivf_identically cmp -s "$T/ff.yuv" "$T/ours.yuv"
	# Our quality numbers against ffmpeg's psnr filter on the same pair.
	ff=$(ffmpeg -nostdin -hide_banner -i "$T/a.y4m" -i "$CLIP" -lavfi psnr -f null - 2>&1 |
		sed -n 's/.*PSNR y:\([0-9.]*\) .*/\1/p')
	check quality_matches_ffmpeg_psnr awk -v a="$psnr" -v b="$ff" \
		'BEGIN { d = a - b; if (d < 0) d = -d; exit !(b > 0 && d <= 0.05) }'
else
	echo "# ffmpeg missing (tools/deps.sh installs it): skipping the ffmpeg cross-checks"
fi

# ---- ladder rungs, layers, transcode ----
check encode_rung_360p_15 run 0 "$PIROGUE" media encode --in "$CLIP" --out "$T/r.ivf" --rung 360p-15
check rung_sets_size_rate_layers out_has "640x360 at 15/1 fps, 2 layer(s)"
check encode_three_layers run 0 "$PIROGUE" media encode --in "$CLIP" --out "$T/l.ivf" --bitrate 200 --layers 3 --fps 12
check three_layer_pattern out_has "TL0 3, TL1 2, TL2 4"
check transcode_down run 0 "$PIROGUE" media transcode --in "$T/r.ivf" --out "$T/t.ivf" --rung 90p-7.5
check transcode_size out_has "160x90 at 15/2 fps, 1 layer(s)"
check decode_transcoded run 0 "$PIROGUE" media decode --in "$T/t.ivf" --out "$T/t.y4m"
check transcoded_y4m_header grep -aq "^YUV4MPEG2 W160 H90 F15:2" "$T/t.y4m"
check transcode_needs_ivf run 1 "$PIROGUE" media transcode --in "$CLIP" --out "$T/x.ivf" --rung 5

# ---- conformance vector through the CLI ----
V1=$VECTORS/conformance/vp8/vp80-00-comprehensive-001.ivf
check decode_conformance_vector run 0 "$PIROGUE" media decode --in "$V1" --out "$T/v1.y4m"
check conformance_frame_count out_has "29 pictures 176x144 at 30/1 fps"

# ---- audio ----
JFK=$MEDIA/jfk_16k_mono.wav
check encode_audio_rung run 0 "$PIROGUE" media encode --in "$JFK" --out "$T/j.opf" --rung audio-16k
check encode_audio_40ms out_has "of 40 ms at 16000 bit/s"
check decode_audio run 0 "$PIROGUE" media decode --in "$T/j.opf" --out "$T/j.wav"
# 44-byte header + 176000 samples * 2 bytes: the exact original length.
check decoded_audio_length_exact test "$(stat -c %s "$T/j.wav")" -eq $((44 + 176000 * 2))
check encode_audio_bitrate run 0 "$PIROGUE" media encode --in "$JFK" --out "$T/k.opf" --bitrate 24

# ---- refusals: each with its reason, nothing half-done ----
head -c 60000 "$CLIP" >"$T/trunc.y4m"
check truncated_y4m_fails run 1 "$PIROGUE" media encode --in "$T/trunc.y4m" --out "$T/x.ivf" --bitrate 100
check truncated_y4m_reason err_has "cut short"
{ printf 'YUV4MPEG2 W16 H16 F25:1 C422\nFRAME\n'; head -c 512 /dev/zero; } >"$T/c422.y4m"
check c422_refused run 1 "$PIROGUE" media encode --in "$T/c422.y4m" --out "$T/x.ivf" --bitrate 100
check c422_reason err_has "only 4:2:0 8-bit"
# An IVF whose first frame claims 1 MB.
{ head -c 32 "$T/a.ivf"; printf '\x00\x00\x10\x00'; head -c 8 /dev/zero; head -c 100 /dev/zero; } >"$T/lie.ivf"
check lying_ivf_refused run 1 "$PIROGUE" media decode --in "$T/lie.ivf" --out "$T/x.y4m"
check lying_ivf_reason err_has "declared size 1048576"
head -c 40 "$T/a.ivf" >"$T/trunc.ivf"
check truncated_ivf_refused run 1 "$PIROGUE" media decode --in "$T/trunc.ivf" --out "$T/x.y4m"
check truncated_ivf_reason err_has "cut short"
head -c 1000 "$T/j.opf" >"$T/trunc.opf"
check truncated_opf_refused run 1 "$PIROGUE" media decode --in "$T/trunc.opf" --out "$T/x.wav"
check truncated_opf_reason err_has "POPF"
check missing_input_fails run 1 "$PIROGUE" media decode --in "$T/nothing.ivf" --out "$T/x.y4m"
check size_mismatch_refused run 1 "$PIROGUE" media quality --ref "$CLIP" --test "$T/t.y4m"
check size_mismatch_reason err_has "sizes differ"

# `pirogue consult --print-report A B`: a report that cannot be read is named, even when the
# other one reads fine (its error used to be overwritten by the second load's).
echo '{}' >"$T/empty-report.json"
check print_report_missing_refused run 1 "$PIROGUE" consult --print-report "$T/none.json" "$T/empty-report.json"
check print_report_missing_named err_has "none.json.*No such file"
echo '{' >"$T/bad-report.json"
check print_report_bad_second_refused run 1 "$PIROGUE" consult --print-report "$T/empty-report.json" "$T/bad-report.json"
check print_report_bad_second_named err_has "bad-report.json"

finish
