using System.Runtime.CompilerServices;
using System.Threading;
using FastPt.Geometry;

namespace FastPt.Hardware;

// TLB refill: the common misses finished from a paging-structure cache in one load (PTE table cached) or two (PMD
// table cached) or walked from the root in four, each level a constant, and the fills of the 4 KiB and 2 MiB TLBs
// after a walk.
internal unsafe partial struct Cpu<TFrames>
{
    /// <summary>The TLB refill: the common miss done with every level a constant, from the PMD-level
    /// paging-structure cache (the PTE table cached: one load, inlined here), else through
    /// <see cref="RefillFromUpper"/>. Returns the physical address, or <see cref="NoTranslation"/> for anything
    /// unusual (a hole, a fault, a bit to set, a 1 GiB leaf, 5-level paging, a frame that is not present memory, a
    /// host arena not reserved yet, a frame's first write pointer): the general path handles that. Neither
    /// allocates nor throws (every host pointer is peeked, no bounds check), so its caller's busy window needs no
    /// try/finally. The caller has checked the flush generation, the address (at most the last user address) and
    /// that checked mode is off.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong Refill(ulong v, AccessKind access)
    {
        if (!_tlb.TryPteTable(v, out ulong pteTable, out int rights)) return RefillFromUpper(v, access);
        ulong result = RefillPte(v, access, pteTable, rights, pmdSlot: null, pmd: 0);
        if (result != NoTranslation) _counters.PmdCacheHits++;
        return result;
    }

    /// <summary>The refill's miss of the PMD-level cache: the PMD table from the PUD-level cache (two loads) or a
    /// walk from a 4-level root (four), a 2 MiB leaf filled into the large-page TLB, and on success the partial
    /// walks cached. Not inlined: the common refill stays small.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private ulong RefillFromUpper(ulong v, AccessKind access)
    {
        // A table entry the refill walks through: present, accessed (else the general path sets A), not a leaf.
        const ulong TableBits = PageTableEntry.Present | PageTableEntry.Accessed | PageTableEntry.Huge;
        const ulong TableOk = PageTableEntry.Present | PageTableEntry.Accessed;
        nint* arenas = _arenas;
        ulong max = _physical.MaxPhysicalAddress;
        bool walked = !_tlb.TryPmdTable(v, out ulong pmdTable, out int rightsAbovePmd);
        if (walked)
        {
            // The caches are tagged with every bit of the address, so only the walk can meet a non-canonical one
            // (it would index the root like its canonical alias).
            PageTableRoot root = _root;
            if (root.Level != Paging.P4dLevel || !Paging.IsCanonical(v, _mode)) return NoTranslation;
            ulong* p4d = (ulong*)PhysicalMemory.PeekPointer(arenas, root.Pa);
            if (p4d == null) return NoTranslation;
            ulong e = Volatile.Read(ref p4d[Paging.Index(Paging.P4dLevel, v)]);
            if ((e & TableBits) != TableOk) return NoTranslation;
            rightsAbovePmd = Rights.Combine(Rights.Unrestricted, e);
            ulong pudTable = PageTableEntry.TableAddress(e);
            if (pudTable >= max) return NoTranslation;
            ulong* pud = (ulong*)PhysicalMemory.PeekPointer(arenas, pudTable);
            if (pud == null) return NoTranslation;
            e = Volatile.Read(ref pud[Paging.Index(Paging.PudLevel, v)]);
            // A 1 GiB leaf is the general path's (cached in 2 MiB pieces).
            if ((e & TableBits) != TableOk) return NoTranslation;
            rightsAbovePmd = Rights.Combine(rightsAbovePmd, e);
            pmdTable = PageTableEntry.TableAddress(e);
            if (pmdTable >= max) return NoTranslation;
        }
        ulong* pmds = (ulong*)PhysicalMemory.PeekPointer(arenas, pmdTable);
        if (pmds == null) return NoTranslation;
        ulong* pmdSlot = pmds + Paging.Index(Paging.PmdLevel, v);
        ulong pmd = Volatile.Read(ref *pmdSlot);
        ulong result;
        if ((pmd & TableBits) == TableOk)
        {
            int rights = Rights.Combine(rightsAbovePmd, pmd);
            ulong pteTable = PageTableEntry.TableAddress(pmd);
            if (pteTable >= max) return NoTranslation;
            result = RefillPte(v, access, pteTable, rights, pmdSlot, pmd);
            if (result == NoTranslation) return NoTranslation;
            // Cached only now: a walk that fails caches nothing, as in the general path.
            _tlb.CachePteTable(v, pteTable, rights);
        }
        else
        {
            if ((pmd & PageTableEntry.Huge) == 0) return NoTranslation;
            result = TryFillPmdLeaf(v, access, pmd, rightsAbovePmd, pmdSlot);
            if (result == NoTranslation) return NoTranslation;
        }
        if (walked)
        {
            _tlb.CachePmdTable(v, pmdTable, rightsAbovePmd);
            _counters.Walks++;
        }
        else
        {
            _counters.PudCacheHits++;
        }
        return result;
    }

    /// <summary>The last step of a refill: the PTE of <paramref name="v"/> in <paramref name="pteTable"/> (reached
    /// with <paramref name="rights"/>) checked and filled into the 4 KiB TLB. <paramref name="pmdSlot"/> is the PMD
    /// entry the table was read from (null when it came from the paging-structure cache), re-read for
    /// <c>pmd_same</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong RefillPte(ulong v, AccessKind access, ulong pteTable, int rights, ulong* pmdSlot, ulong pmd)
    {
        nint* arenas = _arenas;
        ulong* ptes = (ulong*)PhysicalMemory.PeekPointer(arenas, pteTable);
        if (ptes == null) return NoTranslation;
        ulong* slot = ptes + Paging.Index(Paging.PteLevel, v);
        ulong entry = Volatile.Read(ref *slot);
        // pmd_same: the PTE table may have been unlinked (collapsed, reclaimed) between the two loads; then the
        // general path walks what the PMD holds now, and the table is not cached. (A table from the cache cannot
        // have been freed: the free flushes the caches of every CPU busy here first.)
        if (pmdSlot != null && Volatile.Read(ref *pmdSlot) != pmd) return NoTranslation;

        ulong needed = PageTableEntry.Present | PageTableEntry.Accessed | (access == AccessKind.Write ? PageTableEntry.Dirty : 0);
        if ((entry & needed) != needed) return NoTranslation;
        int leafRights = Rights.Combine(rights, entry);
        if (!Rights.Allows(leafRights, access, user: true)) return NoTranslation;
        ulong page = PageTableEntry.LeafAddress(entry, Paging.PteLevel);
        // A mapping may point at a hole or at hot-removed memory: one load of the section's subsection map. A
        // present frame lies below MaxPhysicalAddress, a multiple of the section size (MachineOptions checks it).
        if (!_frames.IsPresent(page >> Paging.PageShift)) return NoTranslation;
        // Branch-free flags (W, D and XD as 0/1): the write tag invalid without W and not dirty with W but no D (the
        // first write through a clean leaf must take the slow path, which sets D), the exec tag invalid with XD; the
        // user may read (Allows checked the user bit).
        ulong w = (ulong)(leafRights & Rights.Writable);
        ulong d = (entry / PageTableEntry.Dirty) & 1;
        ulong writeHit = w & d;
        // A write through the entry's host addend must be accounted as a write to the frame: the refill only
        // takes a frame that is marked already.
        byte* host = writeHit != 0 ? PhysicalMemory.PeekWritePointer(arenas, page) : PhysicalMemory.PeekPointer(arenas, page);
        if (host == null) return NoTranslation;

        ulong vpage = v & Paging.PageMask;
        ulong tag = vpage | _tlb.UserEpoch;
        _tlb.FillUser(vpage, tag,
            tag | ((w ^ 1) * SoftTlb.InvalidBit) | ((w & ~d) * SoftTlb.NotDirtyBit),
            tag | ((ulong)(uint)(leafRights & Rights.NoExecute) / Rights.NoExecute * SoftTlb.InvalidBit),
            (long)host - (long)vpage,
            page,
            TlbDetail.Pack(vpage, Paging.PteLevel, PresentLeafProtection(entry), global: false),
            (nint)slot);
        _counters.Misses++;
        return page | (v & (Paging.PageSize - 1));
    }

    /// <summary><see cref="PageTableEntry.ProtectionOf"/> of a present leaf, branch-free: read, write from R/W (bit
    /// 1, Protection.Write's value), execute unless XD (bit 63).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Protection PresentLeafProtection(ulong entry) =>
        (Protection)((int)Protection.Read | ((int)entry & (int)Protection.Write) | ((int)(~entry >> 61) & (int)Protection.Execute));

    /// <summary>A 2 MiB leaf met by the refill: fills the large-page TLB and returns the physical address, or
    /// <see cref="NoTranslation"/> for the general path (rare next to 4 KiB misses: not inlined).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private ulong TryFillPmdLeaf(ulong v, AccessKind access, ulong entry, int rights, ulong* slot)
    {
        ulong needed = PageTableEntry.Present | PageTableEntry.Accessed | (access == AccessKind.Write ? PageTableEntry.Dirty : 0);
        if ((entry & needed) != needed) return NoTranslation;
        rights = Rights.Combine(rights, entry);
        if (!Rights.Allows(rights, access, user: true)) return NoTranslation;
        ulong pa = PageTableEntry.LeafAddress(entry, Paging.PmdLevel) | (v & (Paging.PmdSize - 1));
        if (!_frames.IsPresent(pa >> Paging.PageShift)) return NoTranslation;
        // FillHuge takes write pointers of the whole piece: the arena must be reserved (a write pointer of a frame
        // not marked yet only sets bits, which cannot throw).
        if (PhysicalMemory.PeekPointer(_arenas, pa) == null) return NoTranslation;
        _counters.Misses++;
        FillHuge(v, pa, entry, Paging.PmdLevel, rights, global: false, materialize: false, watch: false, (byte*)slot);
        return pa;
    }

    private Hit FillEntry(ulong v, in WalkResult walk, bool global, bool materialize)
    {
        byte* leafEntryHost = _physical.ReadPointer(walk.TablePa + (ulong)(Paging.Index(walk.Level, v) * 8));
        if (walk.Level > Paging.PteLevel)
            return HugeHitAt(v, FillHuge(v, walk.PhysAddr, walk.Entry, walk.Level, walk.Rights, global, materialize, _checked, leafEntryHost));
        return HitAt(v, Fill(v, walk.PhysAddr & Paging.PageMask, walk.Entry, walk.Level, walk.Rights, global, materialize, _checked, leafEntryHost));
    }

    /// <summary>Caches the 2 MiB piece of a huge leaf that holds <paramref name="v"/> in the large-page TLB.</summary>
    private int FillHuge(ulong v, ulong pa, ulong leaf, int level, int rights, bool global, bool materialize, bool watch, byte* leafEntryHost)
    {
        ulong region = v & ~SoftTlb.HugeMask;
        ulong physRegion = pa & ~SoftTlb.HugeMask;
        ulong tag = _tlb.HitTag(region, global) | (watch ? SoftTlb.WatchBit : 0);
        bool user = !global;
        bool writeHit = (leaf & PageTableEntry.Dirty) != 0 && Rights.Allows(rights, AccessKind.Write, user);
        // A write through the addend may land in any frame of the 2 MiB piece: all of them are marked written.
        byte* host = materialize || writeHit ? _physical.WritePointer(physRegion, Paging.PmdSize) : _physical.ReadPointer(physRegion);
        ulong leafSize = Paging.LevelSize(level);
        return _tlb.WriteHuge(region,
            Rights.Allows(rights, AccessKind.Read, user) ? tag : tag | SoftTlb.InvalidBit,
            !Rights.Allows(rights, AccessKind.Write, user) ? tag | SoftTlb.InvalidBit : writeHit ? tag : tag | SoftTlb.NotDirtyBit,
            Rights.Allows(rights, AccessKind.Execute, user) ? tag : tag | SoftTlb.InvalidBit,
            (long)host - (long)region,
            physRegion,
            TlbDetail.Pack(region, level, PageTableEntry.ProtectionOf(leaf), global),
            (nint)leafEntryHost, v & ~(leafSize - 1), leafSize);
    }

    /// <summary>Writes the TLB entry for <paramref name="v"/> in place and returns its slot. <paramref name="watch"/>
    /// is checked mode (a constant false on the refill path, which checked mode never takes).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Fill(ulong v, ulong physPage, ulong leaf, int level, int rights, bool global, bool materialize, bool watch, byte* leafEntryHost)
    {
        ulong page = v & Paging.PageMask;
        // Checked mode watches every access: the watch bit makes every fast-path compare fail, so each hit goes
        // through the slow path, which verifies the frame.
        ulong tag = _tlb.HitTag(page, global) | (watch ? SoftTlb.WatchBit : 0);
        bool user = !global;
        bool writeHit = (leaf & PageTableEntry.Dirty) != 0 && Rights.Allows(rights, AccessKind.Write, user);
        // A write through the entry's host addend must be accounted as a write to the frame's chunk.
        byte* host = materialize || writeHit ? _physical.WritePointer(physPage) : _physical.ReadPointer(physPage);
        ulong leafSize = Paging.LevelSize(level);
        int slot = _tlb.Claim(page, v & ~(leafSize - 1), leafSize);
        _tlb.Write(slot,
            Rights.Allows(rights, AccessKind.Read, user) ? tag : tag | SoftTlb.InvalidBit,
            // The first write through a clean leaf must take the slow path: it sets D.
            !Rights.Allows(rights, AccessKind.Write, user) ? tag | SoftTlb.InvalidBit : writeHit ? tag : tag | SoftTlb.NotDirtyBit,
            Rights.Allows(rights, AccessKind.Execute, user) ? tag : tag | SoftTlb.InvalidBit,
            (long)host - (long)page,
            physPage,
            TlbDetail.Pack(page, level, PageTableEntry.ProtectionOf(leaf), global),
            (nint)leafEntryHost);
        return slot;
    }
}
