#!/bin/bash
# Refcount table damage: entry 0 zero, unaligned, with a reserved bit,
# beyond the end of the file; an unused entry beyond EOF or pointing at a
# data cluster; the table missing (offset 0, beyond EOF, 0 clusters)
# (behaviour doc 6.5, 6.6).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_check.sh"

mkbase base.qcow2
RT=$(poke base.qcow2 get header refcount_table_offset)
B=$(cluster_of "$(poke base.qcow2 get refblock 0)")

# Entry 0 zero: every refcount reads 0.
cp base.qcow2 zero.qcow2
poke zero.qcow2 reftable 0 0
compare_full zero.qcow2
expect_kinds zero.qcow2 refcount-too-low oflag-copied-l1 oflag-copied-l2
expect_count zero.qcow2 refcount-too-low 7
expect_count zero.qcow2 refcount-too-low 0 cluster="$B"
expect_located zero.qcow2 refcount-too-low cluster=0 refcount=0 owner="image header"
expect_located zero.qcow2 refcount-too-low cluster=6 refcount=0 l2-index=16 guest-offset=0x100000

# Entry 0 unaligned: check errors for every cluster, exit 1.
cp base.qcow2 unaligned.qcow2
poke unaligned.qcow2 reftable 0 --or 0x200
compare_full unaligned.qcow2
assert_eq 1 "$ORC" "exit code with check errors"
expect_kinds unaligned.qcow2 refblock-unaligned refcount-unreadable
expect_located unaligned.qcow2 refblock-unaligned host-offset="$RT" severity=corruption
expect_count unaligned.qcow2 refcount-unreadable 8 severity=check-error
expect_located unaligned.qcow2 refcount-unreadable cluster=7 host-offset=0x70000

# Entry 0 with reserved bit 0.
cp base.qcow2 reserved.qcow2
poke reserved.qcow2 reftable 0 --or 1
compare_full reserved.qcow2
expect_kinds reserved.qcow2 refblock-reserved-bits refcount-too-high
expect_located reserved.qcow2 refblock-reserved-bits host-offset="$RT"
expect_located reserved.qcow2 refcount-too-high cluster="$B" refcount=1 references=0

# Entry 0 beyond the end of the file.
cp base.qcow2 beyond.qcow2
poke beyond.qcow2 reftable 0 0x1000000
compare_full beyond.qcow2
expect_located beyond.qcow2 refblock-outside-image host-offset="$RT" severity=corruption
expect_count beyond.qcow2 refcount-too-low 7

# Unused entry 1 beyond the end of the file.
cp base.qcow2 beyond1.qcow2
poke beyond1.qcow2 reftable 1 0x1000000
compare_full beyond1.qcow2
expect_kinds beyond1.qcow2 refblock-outside-image
expect_located beyond1.qcow2 refblock-outside-image host-offset=$((RT + 8))

# Unused entry 1 pointing at the data cluster of guest 0.
cp base.qcow2 shared1.qcow2
H=$(poke shared1.qcow2 get host 0)
poke shared1.qcow2 reftable 1 "$H"
compare_full shared1.qcow2
# (the data bytes, read as refcount block 1, give clusters past the end of
# the file non-zero refcounts: a warning)
expect_kinds shared1.qcow2 refblock-refcount refcount-too-low refcount-beyond-end
expect_located shared1.qcow2 refblock-refcount host-offset="$H" cluster=$((H / 65536))
expect_located shared1.qcow2 refcount-too-low cluster=$((H / 65536)) refcount=1 references=2

# The table missing: offset 0 (the header is read as the table), beyond the
# end of the file, and refcount_table_clusters 0.
cp base.qcow2 rt0.qcow2
poke rt0.qcow2 header refcount_table_offset 0
compare_full rt0.qcow2
expect_located rt0.qcow2 refcount-too-low cluster=0 references=2

cp base.qcow2 rtbeyond.qcow2
poke rtbeyond.qcow2 header refcount_table_offset 0x1000000
compare_full rtbeyond.qcow2
expect_located rtbeyond.qcow2 beyond-end-of-file host-offset=0x1000000 owner="refcount table"
expect_count rtbeyond.qcow2 refcount-too-low 6

cp base.qcow2 rtclusters.qcow2
poke rtclusters.qcow2 header refcount_table_clusters 0
compare_full rtclusters.qcow2
expect_count rtclusters.qcow2 refcount-too-low 6
finish
