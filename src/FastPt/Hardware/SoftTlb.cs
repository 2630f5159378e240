using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading;
using FastPt.Geometry;

namespace FastPt.Hardware;

/// <summary>A TLB entry (QEMU's <c>CPUTLBEntry</c> with its <c>CPUTLBEntryFull</c> beside it): a tag per access
/// kind, the host addend, the physical page and the details the slow paths read, one 64-byte cache line. A hit is
/// one compare of the page address against the tag of the access kind and one add or or, both within the line the
/// compare loaded: with the physical page in a separate array, as QEMU keeps it, every translation touched a second
/// line (and paid a second base load and index scaling). Flag bits in a tag's low 12 bits make the compare fail and
/// send that kind of access to the slow path: invalid, not dirty (the first write must set D), watched. The low bits
/// also hold the TLB's epoch, which makes a full flush O(1).</summary>
[StructLayout(LayoutKind.Sequential, Size = 64)]
internal struct TlbEntry
{
    public ulong ReadTag;
    public ulong WriteTag;
    public ulong ExecTag;

    /// <summary>Host address minus virtual address of the page: <c>host = va + HostAddend</c>.</summary>
    public long HostAddend;

    /// <summary>Physical address of the page (of the 2 MiB region in the large-page TLB).</summary>
    public ulong PhysPage;

    /// <summary>What only the slow paths and flushes read.</summary>
    public TlbDetail Detail;
}

/// <summary>The cold part of a TLB entry (QEMU's <c>CPUTLBEntryFull</c>), read only on slow paths and flushes.</summary>
[StructLayout(LayoutKind.Sequential, Size = 16)]
internal struct TlbDetail
{
    /// <summary>Virtual page address; the low bits hold the leaf level (bits 0–1), its protection (bits 2–4) and
    /// the global flag (bit 5).</summary>
    public ulong PageAndBits;

    /// <summary>Host address of the leaf entry the translation came from.</summary>
    public nint LeafHost;

    public const ulong GlobalBit = 1UL << 5;

    public readonly ulong Page => PageAndBits & Paging.PageMask;

    public readonly int Level => (int)(PageAndBits & 3);

    public readonly Protection Protection => (Protection)((PageAndBits >> 2) & 7);

    public readonly bool Global => (PageAndBits & GlobalBit) != 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Pack(ulong page, int level, Protection protection, bool global) =>
        page | (uint)level | ((ulong)protection << 2) | (global ? GlobalBit : 0);
}

/// <summary>A cached partial walk (an x86 paging-structure cache entry): the table one level above the leaf
/// level, with the rights of the entries above it.</summary>
internal struct PscEntry
{
    /// <summary>(virtual address &gt;&gt; level shift) + 1; 0 when empty.</summary>
    public ulong Tag;
    public ulong TablePa;
    public int Rights;
}

/// <summary>A CPU context's translation caches: a 2-way set-associative TLB for 4 KiB pages (64-byte
/// entries, one cache line each), a direct-mapped TLB of 2 MiB entries for
/// huge leaves (as hardware has: a 1 GiB leaf is cached in 2 MiB pieces), and paging-structure caches for the PMD
/// level (one load to finish a walk) and the PUD level (two). Single-threaded: only the owning context touches it.
/// A struct embedded in the CPU (itself embedded in the <c>MmuContext</c> object), held in a non-readonly field and
/// called in place, never copied: a hit loads the entry array's address, the index mask and the epoch straight
/// from the context object, not through a TLB object first (one dependent load fewer on every hit).</summary>
/// <remarks>The two ways of a set are adjacent (two lines) and kept in LRU order by position:
/// way 0 holds the most recently used entry, so a hit costs what a direct-mapped hit costs (one compare at a slot
/// computed from the address) and needs no store. A hit in way 1 is found on the miss path and swapped into way 0;
/// a fill writes way 0 and moves what was there to way 1, whose entry leaves. Chosen by measurement on real
/// programs' traces (<c>perf-results/2026-12-01-amd-epyc-zen3-2core/TlbStudy.md</c>): the direct-mapped TLB's warm
/// misses were all conflict misses; 2-way LRU of the same 1,024 entries misses at most 4 times in a warm pass of
/// 1.6–7 million accesses, 99.7–99.99% of its hits in way 0. A one-entry TLB has one way.</remarks>
internal unsafe struct SoftTlb
{
    public const ulong InvalidBit = 1;
    public const ulong NotDirtyBit = 2;
    public const ulong WatchBit = 4;
    private const int EpochShift = 3;
    // The last epoch value (all nine bits set) is never used: a hit word with all twelve low bits set matches no tag.
    private const ulong EpochLimit = (1UL << (Paging.PageShift - EpochShift)) - 1;
    private const ulong EpochMask = ((1UL << (Paging.PageShift - EpochShift)) - 1) << EpochShift;
    public const int Ways = 2;

    /// <summary>Or'ed into the hit word to make every fast-path compare fail (see <see cref="HitWord"/>).</summary>
    public const ulong FlushPendingBits = Paging.PageSize - 1;

    // Pinned, cache-line aligned storage for both TLBs: an entry straddling two lines would cost a second line per
    // lookup and split stores on every fill.
    private readonly byte[] _storage;
    // The hit word, in the line before the entries (with the hit count only): the user epoch, or the epoch with
    // FlushPendingBits set while flushes wait to be applied (set by flushers on other threads, see HitWord).
    private readonly ulong* _hitWord;
    private readonly int _size;
    private readonly int _slots;
    private readonly bool _twoWay;
    private readonly ulong _indexMask; // (sets - 1) << 1 over va >> 11: the slot of way 0
    private readonly ulong _wayByteMask; // (sets - 1) << 7 over va >> 5: the byte offset of way 0 (slot * 64)
    private readonly TlbEntry* _entries;
    // What Read<T>/Write<T> index (AccessEntries): _entries, or for a one-set TLB a line that never hits.
    private readonly TlbEntry* _accessEntries;
    private readonly int _hugeSize;
    private readonly int _hugeMask;
    private readonly ulong _hugeByteMask; // (huge slots - 1) << 6 over va >> 15: the byte offset of the slot
    private readonly TlbEntry* _hugeEntries;
    private readonly PscEntry[] _pmdCache;
    private readonly PscEntry[] _pudCache;
    private readonly int _pscMask;
    private ulong _userEpoch;
    private ulong _globalEpoch;
    private ulong _nextEpoch;
    // Where huge leaves were cached, [_largeStart, _largeLast] inclusive (empty while start > last): the top leaf
    // ends at 2^64, which an exclusive end cannot hold.
    private ulong _largeStart = ulong.MaxValue;
    private ulong _largeLast;

    public SoftTlb(int entries, int pscEntries)
    {
        _size = entries;
        _twoWay = entries >= Ways;
        _slots = Math.Max(entries, Ways); // a one-entry TLB keeps an unused second slot: no probe needs a special case
        _indexMask = (ulong)(_slots / Ways - 1) << 1;
        _wayByteMask = (ulong)(_slots / Ways - 1) << 7;
        _hugeSize = Math.Max(16, entries / 2);
        _hugeMask = _hugeSize - 1;
        _hugeByteMask = (ulong)_hugeMask << 6;
        bool oneSet = _slots / Ways == 1;
        // Alignment, the hit-word line, the entries; a one-set TLB adds a never-hitting word line and entry.
        _storage = GC.AllocateArray<byte>((_slots + _hugeSize + (oneSet ? 2 : 0)) * sizeof(TlbEntry) + 128, pinned: true);
        byte* p = (byte*)(((ulong)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_storage)) + 63) & ~63UL);
        _hitWord = (ulong*)p;
        p += HitWordBack;
        _entries = (TlbEntry*)p;
        _hugeEntries = (TlbEntry*)(p + _slots * sizeof(TlbEntry));
        _accessEntries = _entries;
        if (oneSet)
        {
            // A one-set TLB holds a page's successor in the page's own set, so the data paths' folded page-crossing
            // check (AccessEntries) would not hold: they index a word that matches no tag and an invalid entry
            // instead, and every access of such a TLB takes the slow path (1- and 2-entry TLBs exist for tests and
            // miss benchmarks).
            byte* never = (byte*)(_hugeEntries + _hugeSize);
            *(ulong*)never = FlushPendingBits;
            _accessEntries = (TlbEntry*)(never + HitWordBack);
            Invalidate(ref *_accessEntries);
        }
        _pmdCache = new PscEntry[pscEntries];
        _pudCache = new PscEntry[pscEntries];
        _pscMask = pscEntries - 1;
        ClearAll();
    }

    /// <summary>Entries of the 4 KiB TLB.</summary>
    public int Size => _size;

    /// <summary>Epoch bits of valid non-global entries.</summary>
    public ulong UserEpoch
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => _userEpoch;
    }

    /// <summary>What a fast-path hit compares a tag with, or'ed with the page: <see cref="UserEpoch"/>, or — while
    /// a flush published to the CPU's address space waits to be applied — the epoch with
    /// <see cref="FlushPendingBits"/> set, which no tag carries (an epoch never has all its bits set, and invalid
    /// tags are <see cref="InvalidBit"/> alone), so that every fast path misses and the slow path applies the
    /// flushes. One load on the hit path instead of the acknowledged and the published generation (two loads, one
    /// behind another). Volatile: loaded afresh by every translation, never hoisted out of a caller's loop.</summary>
    public ulong HitWord
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => HitWordOf(_entries);
    }

    /// <summary>The base of the 4 KiB entries, for a hit path that loads it once (the volatile load of the hit
    /// word would otherwise make the JIT load the field again for the entry).</summary>
    public TlbEntry* Entries
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => _entries;
    }

    /// <summary>The base <c>Read&lt;T&gt;</c> and <c>Write&lt;T&gt;</c> index, whose fast paths compare the tag of
    /// the set of an access's first byte with the page of its last byte, so that an access crossing into the next
    /// page misses without a check of its own: adjacent pages lie in different sets when the TLB has two or more
    /// (the set is the low bits of the page number), so the next page is never in the first page's set. A one-set
    /// TLB breaks that; for it this is a line whose hit word matches no tag (every data access takes the slow path).
    /// Otherwise it is <see cref="Entries"/>: the same hit word, hit count and entries.</summary>
    public TlbEntry* AccessEntries
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => _accessEntries;
    }

    /// <summary><see cref="HitWord"/> addressed from the entries' base (<see cref="Entries"/>): no load of its own.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong HitWordOf(TlbEntry* entries) => Volatile.Read(ref *(ulong*)((byte*)entries - HitWordBack));

    /// <summary>The entry at byte offset <paramref name="offset"/> from <paramref name="entries"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ref TlbEntry EntryAt(TlbEntry* entries, nuint offset) => ref *(TlbEntry*)((byte*)entries + offset);

    /// <summary>The CPU's hit count (<c>CpuCounters.Hits</c>), addressed from the entries' base like
    /// <see cref="HitWordOf"/>: it shares the hit word's line, which every fast path has just loaded, so an increment
    /// needs no load of a counters object. Written by the owner only; a flusher's signal writes the same line, which
    /// costs a line transfer per published flush, not per hit.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ref long HitCountOf(TlbEntry* entries) => ref ((long*)entries)[HitCountIndex];

    /// <summary>Counts a fast-path hit (<see cref="HitCountOf"/>): written as a load and a store of the same address
    /// expression, not as an increment through a reference, so that the JIT emits one <c>inc [base-0x38]</c> (an
    /// increment through a reference spills the address to a register first: one instruction more).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void CountHit(TlbEntry* entries) => ((long*)entries)[HitCountIndex] = ((long*)entries)[HitCountIndex] + 1;

    private const int HitCountIndex = (HitCountInLine - HitWordBack) / sizeof(long);

    // The hit word sits this far before the first entry, in a line of its own (with the hit count beside it).
    private const int HitWordBack = 64;
    private const int HitCountInLine = 8;

    /// <summary>Address of the hit count inside <see cref="Storage"/> (<see cref="HitCountOf"/>; pinned).</summary>
    public long* HitCountAddress => (long*)((byte*)_hitWord + HitCountInLine);

    /// <summary>True while flushes were signalled and not yet applied (or forever, once the CPU is disposed).</summary>
    public bool FlushPending => (Volatile.Read(ref *_hitWord) & FlushPendingBits) == FlushPendingBits;

    /// <summary>The storage the hit word lives in, for <see cref="ContextSlot"/> (the reference keeps the pinned
    /// array alive while a flusher may still write the word).</summary>
    public byte[] Storage => _storage;

    /// <summary>Address of the hit word inside <see cref="Storage"/> (pinned: it never moves).</summary>
    public ulong* HitWordAddress => _hitWord;

    /// <summary>Signals flushes to apply (any thread): every fast path misses until <see cref="ClearFlushPending"/>.</summary>
    public static void MarkFlushPending(ulong* hitWord) => Interlocked.Or(ref *hitWord, FlushPendingBits);

    /// <summary>The owner is about to read the published generation and apply what it missed: clears the signal
    /// with a locked exchange, a full fence, so that the generation read after it is at least that of every flush
    /// whose signal it cleared (a flusher publishes the generation before it signals).</summary>
    public void ClearFlushPending() => Interlocked.Exchange(ref *_hitWord, _userEpoch);

    /// <summary>The user epoch changed: store it in the hit word, keeping a pending signal a flusher may have set
    /// meanwhile (a compare-and-swap loop: the owner never erases another thread's signal).</summary>
    private void PublishUserEpoch()
    {
        ulong old = Volatile.Read(ref *_hitWord);
        while (true)
        {
            ulong next = (old & FlushPendingBits) == FlushPendingBits ? _userEpoch | FlushPendingBits : _userEpoch;
            ulong seen = Interlocked.CompareExchange(ref *_hitWord, next, old);
            if (seen == old) return;
            old = seen;
        }
    }

    /// <summary>Epoch bits of valid global entries.</summary>
    public ulong GlobalEpoch => _globalEpoch;

    /// <summary>Slot of way 0 of the set of <paramref name="va"/> (way 1 is the next slot): the set is the low
    /// bits of the page number, so the slot is <c>(va &gt;&gt; 11)</c> with its low bit cleared, one shift and one
    /// mask as for a direct-mapped TLB.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int IndexOf(ulong va) => (int)((va >> (Paging.PageShift - 1)) & _indexMask);

    /// <summary>Byte offset of way 0 of the set of <paramref name="va"/> in the entry array (<see cref="IndexOf"/>
    /// times the entry size, in one shift and one mask: the hit path indexes with it directly).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public nuint Way0Offset(ulong va) => (nuint)((va >> (Paging.PageShift - 1 - 6)) & _wayByteMask);

    /// <summary>The entry at byte offset <paramref name="offset"/> (from <see cref="Way0Offset"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ref TlbEntry EntryAt(nuint offset) => ref *(TlbEntry*)((byte*)_entries + offset);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ref TlbEntry Entry(int index) => ref _entries[index];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong PhysPage(int index) => _entries[index].PhysPage;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ref TlbDetail Detail(int index) => ref _entries[index].Detail;

    public const ulong HugeMask = Paging.PmdSize - 1;

    /// <summary>Slot of the 2 MiB region of <paramref name="va"/> in the large-page TLB.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int HugeIndexOf(ulong va) => (int)((va >> Paging.PmdShift) & (ulong)_hugeMask);

    /// <summary>Byte offset of the large-page slot of <paramref name="va"/> (<see cref="HugeIndexOf"/> times the
    /// entry size).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public nuint HugeOffset(ulong va) => (nuint)((va >> (Paging.PmdShift - 6)) & _hugeByteMask);

    /// <summary>The large-page entry at byte offset <paramref name="offset"/> (from <see cref="HugeOffset"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ref TlbEntry HugeEntryAt(nuint offset) => ref *(TlbEntry*)((byte*)_hugeEntries + offset);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ref TlbEntry HugeEntry(int index) => ref _hugeEntries[index];

    /// <summary>Physical address of the cached 2 MiB region.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong HugePhys(int index) => _hugeEntries[index].PhysPage;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ref TlbDetail HugeDetail(int index) => ref _hugeEntries[index].Detail;

    /// <summary>Writes the large-page slot for the 2 MiB region <paramref name="region"/> of a huge leaf.</summary>
    public int WriteHuge(ulong region, ulong readTag, ulong writeTag, ulong execTag, long hostAddend, ulong physRegion, ulong regionAndBits, nint leafHost, ulong leafStart, ulong leafSize)
    {
        int slot = HugeIndexOf(region);
        ref TlbEntry e = ref _hugeEntries[slot];
        e.ReadTag = readTag;
        e.WriteTag = writeTag;
        e.ExecTag = execTag;
        e.HostAddend = hostAddend;
        e.PhysPage = physRegion;
        ref TlbDetail d = ref e.Detail;
        d.PageAndBits = regionAndBits;
        d.LeafHost = leafHost;
        // A ranged flush touching a cached huge leaf must drop all of them.
        if (leafStart < _largeStart) _largeStart = leafStart;
        if (leafStart + (leafSize - 1) > _largeLast) _largeLast = leafStart + (leafSize - 1);
        return slot;
    }

    /// <summary>Tag a lookup of <paramref name="page"/> must find for a hit.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong HitTag(ulong page, bool global) => page | (global ? _globalEpoch : _userEpoch);

    /// <summary>Looks in way 1 of the set of <paramref name="page"/> (way 0 missed): on a hit for
    /// <paramref name="access"/> (its tag, flag bits masked with <paramref name="tagMask"/>, equal to
    /// <paramref name="hitTag"/>) swaps the two ways, so the entry is found in way 0 (<see cref="IndexOf"/>) from
    /// now on, and returns true.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TrySecondWay(ulong page, AccessKind access, ulong hitTag, ulong tagMask)
    {
        int first = IndexOf(page);
        int second = first + 1;
        if ((Unsafe.Add(ref _entries[second].ReadTag, (int)access) & tagMask) != hitTag) return false;
        Swap(first, second);
        return true;
    }

    /// <summary>Exchanges two slots field by field (no stack temporaries of whole entries).</summary>
    private void Swap(int a, int b)
    {
        ref TlbEntry x = ref _entries[a];
        ref TlbEntry y = ref _entries[b];
        (x.ReadTag, y.ReadTag) = (y.ReadTag, x.ReadTag);
        (x.WriteTag, y.WriteTag) = (y.WriteTag, x.WriteTag);
        (x.ExecTag, y.ExecTag) = (y.ExecTag, x.ExecTag);
        (x.HostAddend, y.HostAddend) = (y.HostAddend, x.HostAddend);
        (x.PhysPage, y.PhysPage) = (y.PhysPage, x.PhysPage);
        ref TlbDetail dx = ref x.Detail;
        ref TlbDetail dy = ref y.Detail;
        (dx.PageAndBits, dy.PageAndBits) = (dy.PageAndBits, dx.PageAndBits);
        (dx.LeafHost, dy.LeafHost) = (dy.LeafHost, dx.LeafHost);
    }

    /// <summary>The slot for <paramref name="page"/>, ready to be written in place: way 0 of its set. A valid
    /// entry of another page there moves to way 1 (LRU order), replacing what way 1 held; a set never holds two
    /// copies of one page.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Claim(ulong page, ulong leafStart, ulong leafSize)
    {
        int slot = IndexOf(page);
        MakeRoomInWayZero(_entries + slot, page);
        if (leafSize > Paging.PageSize)
        {
            // Remember where huge leaves were cached: a ranged flush touching them must drop all of them.
            if (leafStart < _largeStart) _largeStart = leafStart;
            if (leafStart + (leafSize - 1) > _largeLast) _largeLast = leafStart + (leafSize - 1);
        }
        return slot;
    }

    /// <summary><see cref="Claim"/> and <see cref="Write"/> of a 4 KiB user entry in one (the refill's fill): way 0
    /// of the set of <paramref name="page"/> is addressed once, its valid entry of another page moves to way 1 as
    /// one 64-byte copy.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void FillUser(ulong page, ulong readTag, ulong writeTag, ulong execTag, long hostAddend, ulong physPage, ulong pageAndBits, nint leafHost)
    {
        TlbEntry* e = (TlbEntry*)((byte*)_entries + Way0Offset(page));
        MakeRoomInWayZero(e, page);
        e->ReadTag = readTag;
        e->WriteTag = writeTag;
        e->ExecTag = execTag;
        e->HostAddend = hostAddend;
        e->PhysPage = physPage;
        e->Detail.PageAndBits = pageAndBits;
        e->Detail.LeafHost = leafHost;
    }

    /// <summary>LRU within a set, before <paramref name="page"/> takes way 0 (<paramref name="way0"/>): an entry of
    /// another page there moves to way 1 as one 64-byte copy when it can still hit, or when way 1 holds an older copy
    /// of the page (a read-filled entry before the first write, a stale epoch), which the copy replaces: a set never
    /// holds two copies of one page. A dead entry in way 0 (invalidated, an old epoch) is overwritten in place and
    /// way 1 keeps its entry. No call and one tag load: the refill's fill stays a leaf. One place for
    /// <see cref="Claim"/> and <see cref="FillUser"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void MakeRoomInWayZero(TlbEntry* way0, ulong page)
    {
        if (!_twoWay) return;
        if (way0->Detail.Page != page && (CanHit(way0->ReadTag) || way0[1].Detail.Page == page)) way0[1] = way0[0];
    }

    /// <summary>Writes slot <paramref name="slot"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Write(int slot, ulong readTag, ulong writeTag, ulong execTag, long hostAddend, ulong physPage, ulong pageAndBits, nint leafHost)
    {
        ref TlbEntry e = ref _entries[slot];
        e.ReadTag = readTag;
        e.WriteTag = writeTag;
        e.ExecTag = execTag;
        e.HostAddend = hostAddend;
        e.PhysPage = physPage;
        ref TlbDetail d = ref e.Detail;
        d.PageAndBits = pageAndBits;
        d.LeafHost = leafHost;
    }

    /// <summary>Whether an entry with read tag <paramref name="readTag"/> can still hit: the tag carries the user or
    /// the global epoch and not the invalid bit. The read tag alone decides: every filled entry is readable at its own
    /// privilege (a user entry is filled only from a user-accessible leaf, a global one is supervisor-readable), so
    /// an invalid read tag is an invalidated entry; and a user entry never carries the global epoch, nor a global one
    /// the user epoch (both are drawn from one counter, see <see cref="NextEpoch"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool CanHit(ulong readTag)
    {
        ulong epochAndInvalid = readTag & (EpochMask | InvalidBit);
        return epochAndInvalid == _userEpoch || epochAndInvalid == _globalEpoch;
    }

    /// <summary>Drops every non-global entry (a CR3 reload): O(1) by moving to a new epoch.</summary>
    public void FlushUser()
    {
        _userEpoch = NextEpoch();
        PublishUserEpoch();
        _largeStart = ulong.MaxValue;
        _largeLast = 0;
    }

    /// <summary>Drops global (kernel) entries too.</summary>
    public void FlushGlobal()
    {
        _globalEpoch = NextEpoch();
    }

    /// <summary>Drops the entries of [start, end) (invlpg per page): both ways of each page's set; an end of 0
    /// means 2^64, so the top page can be flushed. Falls back to a full flush when the range touches a cached huge
    /// leaf.</summary>
    public void FlushRange(ulong start, ulong end, bool global)
    {
        if (end == start) return;
        ulong last = end - 1;
        if (!global && _largeStart <= _largeLast && start <= _largeLast && last >= _largeStart)
        {
            FlushUser();
            return;
        }
        // Counted, not compared against the end: the page after the top one wraps to 0.
        ulong page = start & Paging.PageMask;
        for (ulong pages = ((last - page) >> Paging.PageShift) + 1; pages != 0; pages--, page += Paging.PageSize)
        {
            int slot = IndexOf(page);
            if (_entries[slot].Detail.Page == page) Invalidate(ref _entries[slot]);
            if (_entries[slot + 1].Detail.Page == page) Invalidate(ref _entries[slot + 1]);
        }
    }

    private static void Invalidate(ref TlbEntry e)
    {
        e.ReadTag = InvalidBit;
        e.WriteTag = InvalidBit;
        e.ExecTag = InvalidBit;
        e.Detail.PageAndBits = ulong.MaxValue & Paging.PageMask;
        e.Detail.LeafHost = 0;
    }

    private ulong NextEpoch()
    {
        _nextEpoch++;
        if (_nextEpoch == EpochLimit)
        {
            // The epoch field wrapped: old entries could alias the new epochs, so clear them for real.
            ClearAll();
            _nextEpoch = 2;
            return 2UL << EpochShift;
        }
        return _nextEpoch << EpochShift;
    }

    private void ClearAll()
    {
        for (int i = 0; i < _slots; i++) Invalidate(ref _entries[i]);
        for (int i = 0; i < _hugeSize; i++) Invalidate(ref _hugeEntries[i]);
        _nextEpoch = 1;
        _userEpoch = 0;
        PublishUserEpoch();
        _globalEpoch = 1UL << EpochShift;
        _largeStart = ulong.MaxValue;
        _largeLast = 0;
        FlushPagingStructureCaches();
    }

    // ------------------------------------------------------------------ paging-structure caches

    /// <summary>Cached PTE table for the 2 MiB region of <paramref name="va"/> (a PMD-level partial walk).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryPteTable(ulong va, out ulong tablePa, out int rights) => TryCached(_pmdCache, Paging.PmdShift, va, out tablePa, out rights);

    /// <summary>Cached PMD table for the 1 GiB region of <paramref name="va"/> (a PUD-level partial walk).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryPmdTable(ulong va, out ulong tablePa, out int rights) => TryCached(_pudCache, Paging.PudShift, va, out tablePa, out rights);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void CachePteTable(ulong va, ulong tablePa, int rights) => Cache(_pmdCache, Paging.PmdShift, va, tablePa, rights);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void CachePmdTable(ulong va, ulong tablePa, int rights) => Cache(_pudCache, Paging.PudShift, va, tablePa, rights);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool TryCached(PscEntry[] cache, int shift, ulong va, out ulong tablePa, out int rights)
    {
        // The mask keeps the index inside the array (its length is the mask plus one): no bounds check, so the
        // refill's busy window holds no throwing instruction.
        ref PscEntry e = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(cache), (nint)((va >> shift) & (ulong)_pscMask));
        if (e.Tag == (va >> shift) + 1)
        {
            tablePa = e.TablePa;
            rights = e.Rights;
            return true;
        }
        tablePa = 0;
        rights = 0;
        return false;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Cache(PscEntry[] cache, int shift, ulong va, ulong tablePa, int rights)
    {
        ref PscEntry e = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(cache), (nint)((va >> shift) & (ulong)_pscMask));
        e.Tag = (va >> shift) + 1;
        e.TablePa = tablePa;
        e.Rights = rights;
    }

    /// <summary>Drops every cached partial walk (required whenever a table may have been freed).</summary>
    public void FlushPagingStructureCaches()
    {
        Array.Clear(_pmdCache);
        Array.Clear(_pudCache);
    }
}
