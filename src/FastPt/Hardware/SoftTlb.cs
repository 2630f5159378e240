using System;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using FastPt.Geometry;

namespace FastPt.Hardware;

/// <summary>The hot part of a TLB entry (QEMU's <c>CPUTLBEntry</c>): a tag per access kind and the host addend, 32
/// bytes so that a 1024-entry TLB fits a 32 KiB L1 cache. A hit is one compare of the page address against the tag
/// of the access kind and one add. Flag bits in a tag's low 12 bits make the compare fail and send that kind of
/// access to the slow path: invalid, not dirty (the first write must set D), watched. The low bits also hold the
/// TLB's epoch, which makes a full flush O(1).</summary>
[StructLayout(LayoutKind.Sequential, Size = 32)]
internal struct TlbEntry
{
    public ulong ReadTag;
    public ulong WriteTag;
    public ulong ExecTag;

    /// <summary>Host address minus virtual address of the page: <c>host = va + HostAddend</c>.</summary>
    public long HostAddend;
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

/// <summary>A CPU context's translation caches: a direct-mapped TLB for 4 KiB pages in three parallel arrays (the
/// 32-byte hot entries, the physical pages, the cold details), a direct-mapped TLB of 2 MiB entries for huge leaves
/// (as hardware has: a 1 GiB leaf is cached in 2 MiB pieces), a small fully associative victim TLB (QEMU's), and
/// paging-structure caches for the PMD level (one load to finish a walk) and the PUD level (two). Single-threaded:
/// only the owning context touches it.</summary>
internal sealed unsafe class SoftTlb
{
    public const ulong InvalidBit = 1;
    public const ulong NotDirtyBit = 2;
    public const ulong WatchBit = 4;
    private const int EpochShift = 3;
    private const ulong EpochLimit = 1UL << (Paging.PageShift - EpochShift);
    public const int VictimEntries = 8;

    // Pinned, cache-line aligned storage for everything: an entry straddling two lines would cost a second line
    // per lookup and split stores on every fill.
    private readonly byte[] _storage;
    private readonly int _size;
    private readonly int _mask;
    private readonly TlbEntry* _entries;
    private readonly ulong* _phys;
    private readonly TlbDetail* _details;
    private readonly TlbEntry* _victim;
    private readonly ulong* _victimPhys;
    private readonly TlbDetail* _victimDetails;
    private readonly ulong* _victimPages; // one cache line to compare at once
    private int _victimNext;
    private readonly int _hugeSize;
    private readonly int _hugeMask;
    private readonly TlbEntry* _hugeEntries;
    private readonly ulong* _hugePhys;
    private readonly TlbDetail* _hugeDetails;
    private readonly PscEntry[] _pmdCache;
    private readonly PscEntry[] _pudCache;
    private readonly int _pscMask;
    private ulong _userEpoch;
    private ulong _globalEpoch;
    private ulong _nextEpoch;
    private ulong _largeStart = ulong.MaxValue;
    private ulong _largeEnd;

    public SoftTlb(int entries, int pscEntries)
    {
        _size = entries;
        _mask = entries - 1;
        _hugeSize = Math.Max(16, entries / 2);
        _hugeMask = _hugeSize - 1;
        int slots = entries + VictimEntries;
        _storage = GC.AllocateArray<byte>((slots + _hugeSize) * (sizeof(TlbEntry) + sizeof(ulong) + sizeof(TlbDetail)) + VictimEntries * sizeof(ulong) + 8 * 64, pinned: true);
        byte* p = (byte*)(((ulong)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_storage)) + 63) & ~63UL);
        _entries = (TlbEntry*)p;
        _victim = _entries + entries;
        p = Align(p + slots * sizeof(TlbEntry));
        _phys = (ulong*)p;
        _victimPhys = _phys + entries;
        p = Align(p + slots * sizeof(ulong));
        _details = (TlbDetail*)p;
        _victimDetails = _details + entries;
        p = Align(p + slots * sizeof(TlbDetail));
        _victimPages = (ulong*)p;
        p = Align(p + VictimEntries * sizeof(ulong));
        _hugeEntries = (TlbEntry*)p;
        p = Align(p + _hugeSize * sizeof(TlbEntry));
        _hugePhys = (ulong*)p;
        p = Align(p + _hugeSize * sizeof(ulong));
        _hugeDetails = (TlbDetail*)p;
        _pmdCache = new PscEntry[pscEntries];
        _pudCache = new PscEntry[pscEntries];
        _pscMask = pscEntries - 1;
        ClearAll();
    }

    private static byte* Align(byte* p) => (byte*)(((ulong)p + 63) & ~63UL);

    public int Size => _size;

    /// <summary>Epoch bits of valid non-global entries.</summary>
    public ulong UserEpoch
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => _userEpoch;
    }

    /// <summary>Epoch bits of valid global entries.</summary>
    public ulong GlobalEpoch => _globalEpoch;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int IndexOf(ulong va) => (int)((va >> Paging.PageShift) & (ulong)_mask);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ref TlbEntry Entry(int index) => ref _entries[index];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong PhysPage(int index) => _phys[index];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ref TlbDetail Detail(int index) => ref _details[index];

    public const ulong HugeMask = Paging.PmdSize - 1;

    /// <summary>Slot of the 2 MiB region of <paramref name="va"/> in the large-page TLB.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int HugeIndexOf(ulong va) => (int)((va >> Paging.PmdShift) & (ulong)_hugeMask);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ref TlbEntry HugeEntry(int index) => ref _hugeEntries[index];

    /// <summary>Physical address of the cached 2 MiB region.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong HugePhys(int index) => _hugePhys[index];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ref TlbDetail HugeDetail(int index) => ref _hugeDetails[index];

    /// <summary>Writes the large-page slot for the 2 MiB region <paramref name="region"/> of a huge leaf.</summary>
    public int WriteHuge(ulong region, ulong readTag, ulong writeTag, ulong execTag, long hostAddend, ulong physRegion, ulong regionAndBits, nint leafHost, ulong leafStart, ulong leafSize)
    {
        int slot = HugeIndexOf(region);
        ref TlbEntry e = ref _hugeEntries[slot];
        e.ReadTag = readTag;
        e.WriteTag = writeTag;
        e.ExecTag = execTag;
        e.HostAddend = hostAddend;
        _hugePhys[slot] = physRegion;
        ref TlbDetail d = ref _hugeDetails[slot];
        d.PageAndBits = regionAndBits;
        d.LeafHost = leafHost;
        // A ranged flush touching a cached huge leaf must drop all of them.
        if (leafStart < _largeStart) _largeStart = leafStart;
        if (leafStart + leafSize > _largeEnd) _largeEnd = leafStart + leafSize;
        return slot;
    }

    /// <summary>Tag a lookup of <paramref name="page"/> must find for a hit.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong HitTag(ulong page, bool global) => page | (global ? _globalEpoch : _userEpoch);

    /// <summary>Looks in the victim TLB; on a hit swaps the entry into the main TLB.</summary>
    public bool TryVictim(ulong page, AccessKind access, bool global)
    {
        int i = VictimIndex(page);
        if (i < 0) return false;
        if (Unsafe.Add(ref _victim[i].ReadTag, (int)access) != HitTag(page, global)) return false;
        int slot = IndexOf(page);
        (_entries[slot], _victim[i]) = (_victim[i], _entries[slot]);
        (_phys[slot], _victimPhys[i]) = (_victimPhys[i], _phys[slot]);
        (_details[slot], _victimDetails[i]) = (_victimDetails[i], _details[slot]);
        _victimPages[i] = _victimDetails[i].Page;
        return true;
    }

    /// <summary>Slot of <paramref name="page"/> in the victim TLB, or -1: the eight pages are one cache line,
    /// compared at once.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int VictimIndex(ulong page)
    {
        if (Vector512.IsHardwareAccelerated)
        {
            ulong mask = Vector512.Equals(Vector512.LoadAligned(_victimPages), Vector512.Create(page)).ExtractMostSignificantBits();
            return mask == 0 ? -1 : BitOperations.TrailingZeroCount(mask);
        }
        if (Vector256.IsHardwareAccelerated)
        {
            // AVX2 (Zen 3): the cache line as two halves.
            Vector256<ulong> wanted = Vector256.Create(page);
            uint mask = Vector256.Equals(Vector256.LoadAligned(_victimPages), wanted).ExtractMostSignificantBits()
                | (Vector256.Equals(Vector256.LoadAligned(_victimPages + 4), wanted).ExtractMostSignificantBits() << 4);
            return mask == 0 ? -1 : BitOperations.TrailingZeroCount(mask);
        }
        for (int i = 0; i < VictimEntries; i++)
            if (_victimPages[i] == page) return i;
        return -1;
    }

    /// <summary>The slot for <paramref name="page"/>, ready to be written in place: a valid entry of another page
    /// it held moves to the victim TLB.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Claim(ulong page, ulong leafStart, ulong leafSize)
    {
        int slot = IndexOf(page);
        ref TlbDetail detail = ref _details[slot];
        if (detail.Page != page && IsCurrent(slot))
        {
            _victim[_victimNext] = _entries[slot];
            _victimPhys[_victimNext] = _phys[slot];
            _victimDetails[_victimNext] = detail;
            _victimPages[_victimNext] = detail.Page;
            _victimNext = (_victimNext + 1) & (VictimEntries - 1);
        }
        if (leafSize > Paging.PageSize)
        {
            // Remember where huge leaves were cached: a ranged flush touching them must drop all of them.
            if (leafStart < _largeStart) _largeStart = leafStart;
            if (leafStart + leafSize > _largeEnd) _largeEnd = leafStart + leafSize;
        }
        return slot;
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
        _phys[slot] = physPage;
        ref TlbDetail d = ref _details[slot];
        d.PageAndBits = pageAndBits;
        d.LeafHost = leafHost;
    }

    private bool IsCurrent(int slot)
    {
        ref TlbEntry e = ref _entries[slot];
        ulong epochBits = e.ReadTag & ((EpochLimit - 1) << EpochShift);
        ulong any = e.ReadTag & e.WriteTag & e.ExecTag & InvalidBit;
        return any == 0 && epochBits == (_details[slot].Global ? _globalEpoch : _userEpoch);
    }

    /// <summary>Drops every non-global entry (a CR3 reload): O(1) by moving to a new epoch.</summary>
    public void FlushUser()
    {
        _userEpoch = NextEpoch();
        _largeStart = ulong.MaxValue;
        _largeEnd = 0;
    }

    /// <summary>Drops global (kernel) entries too.</summary>
    public void FlushGlobal()
    {
        _globalEpoch = NextEpoch();
    }

    /// <summary>Drops the entries of [start, end) (invlpg per page). Falls back to a full flush when the range
    /// touches a cached huge leaf.</summary>
    public void FlushRange(ulong start, ulong end, bool global)
    {
        if (!global && start < _largeEnd && end > _largeStart)
        {
            FlushUser();
            return;
        }
        for (ulong page = start & Paging.PageMask; page < end; page += Paging.PageSize)
        {
            int slot = IndexOf(page);
            if (_details[slot].Page == page) Invalidate(ref _entries[slot], ref _details[slot]);
            // A refill from the paging-structure caches does not look in the victim TLB, so a page can sit there
            // more than once: drop every copy.
            for (int i = VictimIndex(page); i >= 0; i = VictimIndex(page))
            {
                Invalidate(ref _victim[i], ref _victimDetails[i]);
                _victimPages[i] = ulong.MaxValue;
            }
        }
    }

    private static void Invalidate(ref TlbEntry e, ref TlbDetail d)
    {
        e.ReadTag = InvalidBit;
        e.WriteTag = InvalidBit;
        e.ExecTag = InvalidBit;
        d.PageAndBits = ulong.MaxValue & Paging.PageMask;
        d.LeafHost = 0;
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
        for (int i = 0; i < _size; i++) Invalidate(ref _entries[i], ref _details[i]);
        for (int i = 0; i < VictimEntries; i++)
        {
            Invalidate(ref _victim[i], ref _victimDetails[i]);
            _victimPages[i] = ulong.MaxValue;
        }
        for (int i = 0; i < _hugeSize; i++) Invalidate(ref _hugeEntries[i], ref _hugeDetails[i]);
        _nextEpoch = 1;
        _userEpoch = 0;
        _globalEpoch = 1UL << EpochShift;
        _largeStart = ulong.MaxValue;
        _largeEnd = 0;
        FlushPagingStructureCaches();
    }

    // ------------------------------------------------------------------ paging-structure caches

    /// <summary>Cached PTE table for the 2 MiB region of <paramref name="va"/> (a PMD-level partial walk).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryPteTable(ulong va, out ulong tablePa, out int rights) => TryCached(_pmdCache, Paging.PmdShift, va, out tablePa, out rights);

    /// <summary>Cached PMD table for the 1 GiB region of <paramref name="va"/> (a PUD-level partial walk).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryPmdTable(ulong va, out ulong tablePa, out int rights) => TryCached(_pudCache, Paging.PudShift, va, out tablePa, out rights);

    public void CachePteTable(ulong va, ulong tablePa, int rights) => Cache(_pmdCache, Paging.PmdShift, va, tablePa, rights);

    public void CachePmdTable(ulong va, ulong tablePa, int rights) => Cache(_pudCache, Paging.PudShift, va, tablePa, rights);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool TryCached(PscEntry[] cache, int shift, ulong va, out ulong tablePa, out int rights)
    {
        ref PscEntry e = ref cache[(int)((va >> shift) & (ulong)_pscMask)];
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

    private void Cache(PscEntry[] cache, int shift, ulong va, ulong tablePa, int rights) =>
        cache[(int)((va >> shift) & (ulong)_pscMask)] = new PscEntry { Tag = (va >> shift) + 1, TablePa = tablePa, Rights = rights };

    /// <summary>Drops every cached partial walk (required whenever a table may have been freed).</summary>
    public void FlushPagingStructureCaches()
    {
        Array.Clear(_pmdCache);
        Array.Clear(_pudCache);
    }
}
