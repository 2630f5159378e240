using System;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.InteropServices;
using FastPt.Geometry;

namespace FastPt.Hardware;

/// <summary>One TLB entry (QEMU's <c>CPUTLBEntry</c> idea): a tag per access kind, so a hit is one compare of
/// the page address against the tag for that kind. Flag bits in a tag's low 12 bits make the compare fail and
/// send that kind of access to the slow path: invalid, not dirty (the first write must set D), watched. The low
/// bits also hold the TLB's epoch, which makes a full flush O(1).</summary>
[StructLayout(LayoutKind.Sequential, Size = 64)]
internal struct TlbEntry
{
    public ulong ReadTag;
    public ulong WriteTag;
    public ulong ExecTag;

    /// <summary>Physical address of the 4 KiB page.</summary>
    public ulong PhysPage;

    /// <summary>Host address of the 4 KiB page, or 0 when no host memory backs it yet (data accesses then take
    /// the slow path, which reads zeros or backs the page on a write).</summary>
    public nint Host;

    /// <summary>Virtual address of the 4 KiB page (for ranged flushes).</summary>
    public ulong Page;

    /// <summary>Level of the leaf the entry came from (1, 2, 3).</summary>
    public byte Level;

    /// <summary>The leaf's protection.</summary>
    public byte Protection;

    /// <summary>A global (kernel) entry: survives non-global flushes.</summary>
    public bool Global;

    /// <summary>Host address of the leaf entry the translation came from, to report its current rights (a grant
    /// of rights is not flushed, so the cached <see cref="Protection"/> may be older).</summary>
    public nint LeafHost;
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

/// <summary>A CPU context's translation caches: a direct-mapped TLB with a small fully associative victim TLB
/// (QEMU's), and paging-structure caches for the PMD level (one load to finish a walk) and the PUD level (two).
/// Single-threaded: only the owning context touches it.</summary>
internal sealed unsafe class SoftTlb
{
    public const ulong InvalidBit = 1;
    public const ulong NotDirtyBit = 2;
    public const ulong WatchBit = 4;
    private const int EpochShift = 3;
    private const ulong EpochLimit = 1UL << (Paging.PageShift - EpochShift);
    public const int VictimEntries = 8;

    // Entries live in pinned arrays aligned to cache lines: a 64-byte entry straddling two lines costs a second
    // line per lookup and split stores on every fill.
    private readonly byte[] _storage;
    private readonly TlbEntry* _base;
    private readonly int _size;
    private readonly int _mask;
    private readonly TlbEntry* _victim;
    private readonly ulong* _victimPages; // one cache line to scan before the entries
    private int _victimNext;
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
        _storage = GC.AllocateArray<byte>((entries + VictimEntries + 2) * sizeof(TlbEntry), pinned: true);
        ulong start = (ulong)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_storage));
        _base = (TlbEntry*)((start + 63) & ~63UL);
        _victim = _base + entries;
        _victimPages = (ulong*)(_victim + VictimEntries);
        _mask = entries - 1;
        _pmdCache = new PscEntry[pscEntries];
        _pudCache = new PscEntry[pscEntries];
        _pscMask = pscEntries - 1;
        ClearAll();
    }

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
    public ref TlbEntry EntryFor(ulong va) => ref _base[(va >> Paging.PageShift) & (ulong)_mask];

    /// <summary>Tag a lookup of <paramref name="page"/> must find for a hit.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong HitTag(ulong page, bool global) => page | (global ? _globalEpoch : _userEpoch);

    /// <summary>Looks in the victim TLB; on a hit swaps the entry into the main TLB.</summary>
    public bool TryVictim(ulong page, AccessKind access, bool global)
    {
        int i = VictimIndex(page);
        if (i < 0) return false;
        ref TlbEntry v = ref _victim[i];
        if (Unsafe.Add(ref v.ReadTag, (int)access) != HitTag(page, global)) return false;
        ref TlbEntry main = ref EntryFor(page);
        (main, v) = (v, main);
        _victimPages[i] = v.Page;
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
        for (int i = 0; i < VictimEntries; i++)
            if (_victimPages[i] == page) return i;
        return -1;
    }

    /// <summary>Installs an entry, moving a valid one it replaces to the victim TLB.</summary>
    public void Fill(in TlbEntry entry, ulong leafStart, ulong leafSize)
    {
        ref TlbEntry slot = ref EntryFor(entry.Page);
        if (slot.Page != entry.Page && IsCurrent(in slot))
        {
            _victim[_victimNext] = slot;
            _victimPages[_victimNext] = slot.Page;
            _victimNext = (_victimNext + 1) & (VictimEntries - 1);
        }
        slot = entry;
        if (leafSize > Paging.PageSize)
        {
            // Remember where huge leaves were cached: a ranged flush touching them must drop all of them.
            if (leafStart < _largeStart) _largeStart = leafStart;
            if (leafStart + leafSize > _largeEnd) _largeEnd = leafStart + leafSize;
        }
    }

    private bool IsCurrent(in TlbEntry e)
    {
        ulong epochBits = e.ReadTag & ((EpochLimit - 1) << EpochShift);
        ulong any = e.ReadTag & e.WriteTag & e.ExecTag & InvalidBit;
        return any == 0 && epochBits == (e.Global ? _globalEpoch : _userEpoch);
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
            ref TlbEntry e = ref EntryFor(page);
            if (e.Page == page) Invalidate(ref e);
            // A refill from the paging-structure caches does not look in the victim TLB, so a page can sit there
            // more than once: drop every copy.
            for (int i = VictimIndex(page); i >= 0; i = VictimIndex(page))
            {
                Invalidate(ref _victim[i]);
                _victimPages[i] = ulong.MaxValue;
            }
        }
    }

    private static void Invalidate(ref TlbEntry e)
    {
        e.ReadTag = InvalidBit;
        e.WriteTag = InvalidBit;
        e.ExecTag = InvalidBit;
        e.Page = ulong.MaxValue;
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
        for (int i = 0; i < _size; i++) Invalidate(ref _base[i]);
        for (int i = 0; i < VictimEntries; i++)
        {
            Invalidate(ref _victim[i]);
            _victimPages[i] = ulong.MaxValue;
        }
        _nextEpoch = 1;
        _userEpoch = 0;
        _globalEpoch = 1UL << EpochShift;
        _largeStart = ulong.MaxValue;
        _largeEnd = 0;
        FlushPagingStructureCaches();
    }

    // ------------------------------------------------------------------ paging-structure caches

    /// <summary>Cached PTE table for the 2 MiB region of <paramref name="va"/> (a PMD-level partial walk).</summary>
    public bool TryPteTable(ulong va, out ulong tablePa, out int rights)
    {
        ref PscEntry e = ref _pmdCache[(int)((va >> Paging.PmdShift) & (ulong)_pscMask)];
        if (e.Tag == (va >> Paging.PmdShift) + 1)
        {
            tablePa = e.TablePa;
            rights = e.Rights;
            return true;
        }
        tablePa = 0;
        rights = 0;
        return false;
    }

    /// <summary>Cached PMD table for the 1 GiB region of <paramref name="va"/> (a PUD-level partial walk).</summary>
    public bool TryPmdTable(ulong va, out ulong tablePa, out int rights)
    {
        ref PscEntry e = ref _pudCache[(int)((va >> Paging.PudShift) & (ulong)_pscMask)];
        if (e.Tag == (va >> Paging.PudShift) + 1)
        {
            tablePa = e.TablePa;
            rights = e.Rights;
            return true;
        }
        tablePa = 0;
        rights = 0;
        return false;
    }

    public void CachePteTable(ulong va, ulong tablePa, int rights) =>
        _pmdCache[(int)((va >> Paging.PmdShift) & (ulong)_pscMask)] = new PscEntry { Tag = (va >> Paging.PmdShift) + 1, TablePa = tablePa, Rights = rights };

    public void CachePmdTable(ulong va, ulong tablePa, int rights) =>
        _pudCache[(int)((va >> Paging.PudShift) & (ulong)_pscMask)] = new PscEntry { Tag = (va >> Paging.PudShift) + 1, TablePa = tablePa, Rights = rights };

    /// <summary>Drops every cached partial walk (required whenever a table may have been freed).</summary>
    public void FlushPagingStructureCaches()
    {
        Array.Clear(_pmdCache);
        Array.Clear(_pudCache);
    }
}
