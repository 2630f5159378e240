using System;
using FastPt.Geometry;
using FastPt.Hardware;
using FastPt.Internals;
using FastPt.Sync;

namespace FastPt.Mm;

/// <summary>The users of the lockless walk (<see cref="PageWalk.WalkLockless"/>): one translation
/// (<c>pte_offset_map_ro_nolock</c> and a read of the leaf), and GUP-fast's range of pages. Neither takes a lock,
/// sets Accessed or Dirty, nor fills a TLB.</summary>
internal static unsafe class LocklessWalk
{
    /// <summary>What one lockless translation found.</summary>
    private struct TranslateOps : ILocklessWalkOps
    {
        public ulong Entry;
        public int Level;
        public int Rights;
        public bool Found;

        public bool Leaf(ulong address, ulong entry, int level, int rights)
        {
            Entry = entry;
            Level = level;
            Rights = rights;
            Found = true;
            return true;
        }

        public bool Hole(ulong address, ulong entry, int level)
        {
            Entry = entry;
            Level = level;
            Found = false;
            return true;
        }

        public void Rewind(ulong address) => Found = false;
    }

    /// <summary>Translates <paramref name="va"/> (checked canonical and below the user top) for
    /// <paramref name="access"/> as a user access, in a read-side section of <paramref name="reader"/>.</summary>
    public static Translation Translate(MmStruct mm, RcuReader reader, ulong va, AccessKind access)
    {
        MemoryManager memory = mm.Memory;
        ulong page = va & Paging.PageMask;
        var ops = new TranslateOps();
        LocklessWalkStatus status = PageWalk.WalkLockless(memory.Physical, mm.RootPa, mm.RootLevel, reader, memory.Checked,
            page, page + Paging.PageSize, ref ops, out ulong poisoned);
        if (status == LocklessWalkStatus.Unstable)
        {
            // The PMD kept changing: take the lock (writers are excluded) and walk again.
            using (mm.LockMmap())
            {
                ops = new TranslateOps();
                status = PageWalk.WalkLockless(memory.Physical, mm.RootPa, mm.RootLevel, reader, memory.Checked,
                    page, page + Paging.PageSize, ref ops, out poisoned);
            }
        }
        if (status == LocklessWalkStatus.Poisoned) throw PoisonedWalk(memory, va, poisoned);
        var virt = new VirtAddr(va);
        if (!ops.Found)
        {
            bool protNone = ops.Entry != 0 && (ops.Entry & PageTableEntry.ProtNone) != 0 && PageTableEntry.IsLeaf(ops.Entry, ops.Level);
            return new Translation(new PageFault(virt, access, protNone ? FaultReason.ProtectionViolation : FaultReason.NotMapped));
        }
        if (!Rights.Allows(ops.Rights, access, user: true))
            return new Translation(new PageFault(virt, access, FaultReason.ProtectionViolation));
        ulong pa = PageTableEntry.LeafAddress(ops.Entry, ops.Level) | (va & (Paging.LevelSize(ops.Level) - 1));
        if (pa >= memory.Physical.MaxPhysicalAddress || !memory.Sparse.PfnPresent(pa >> Paging.PageShift))
            return new Translation(new PageFault(virt, access, FaultReason.PhysicalMemoryAbsent));
        return new Translation(new PhysAddr(pa), Paging.LeafSize(ops.Level), PageTableEntry.ProtectionOf(ops.Entry));
    }

    /// <summary>GUP-fast's collection: the frame of each 4 KiB page from the start, up to the first page that is
    /// not mapped or does not allow the access.</summary>
    internal struct PagesOps : ILocklessWalkOps
    {
        public PhysAddr* Pages;
        public int Capacity;
        public int Count;
        public ulong Start;
        public AccessKind Access;
        public ulong MaxPhysical;

        public bool Leaf(ulong address, ulong entry, int level, int rights)
        {
            if (!Rights.Allows(rights, Access, user: true)) return false;
            ulong leafStart = address & ~(Paging.LevelSize(level) - 1);
            ulong frame = PageTableEntry.LeafAddress(entry, level) + (address - leafStart);
            // A huge leaf covers [address, its end or the range end): every 4 KiB page of it, counted (the top
            // leaf ends at 2^64, whose exclusive end is 0).
            ulong pages = (leafStart + Paging.LevelSize(level) - address) >> Paging.PageShift;
            for (; pages != 0 && Count < Capacity; pages--, frame += Paging.PageSize)
            {
                if (frame >= MaxPhysical) return false;
                Pages[Count++] = new PhysAddr(frame);
            }
            return Count < Capacity;
        }

        public bool Hole(ulong address, ulong entry, int level) => false;

        public void Rewind(ulong address) => Count = (int)((address - Start) >> Paging.PageShift);
    }

    /// <summary>Fills <paramref name="pages"/> with the frames of the pages from <paramref name="start"/> and
    /// returns how many were filled (fewer at the first hole or forbidden page, or when the tables kept changing).</summary>
    public static int GetPages(MmStruct mm, RcuReader reader, ulong start, Span<PhysAddr> pages, AccessKind access)
    {
        MemoryManager memory = mm.Memory;
        fixed (PhysAddr* p = pages)
        {
            var ops = new PagesOps
            {
                Pages = p, Capacity = pages.Length, Start = start, Access = access,
                MaxPhysical = memory.Physical.MaxPhysicalAddress,
            };
            ulong end = start + ((ulong)pages.Length << Paging.PageShift);
            LocklessWalkStatus status = PageWalk.WalkLockless(memory.Physical, mm.RootPa, mm.RootLevel, reader, memory.Checked,
                start, end, ref ops, out ulong poisoned);
            if (status == LocklessWalkStatus.Poisoned) throw PoisonedWalk(memory, start + ((ulong)ops.Count << Paging.PageShift), poisoned);
            return ops.Count;
        }
    }

    private static UseAfterFreeException PoisonedWalk(MemoryManager memory, ulong va, ulong tablePa)
    {
        Vmstat.Add(ref memory.Stat.UseAfterFreeDetected, 1);
        return ThrowHelper.UseAfterFree(va, tablePa, 0, PageTableEntry.Poison);
    }
}
