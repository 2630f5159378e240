using System;
using System.Threading;
using FastPt.Geometry;
using FastPt.Hardware;
using FastPt.Internals;

namespace FastPt.Mm;

/// <summary>Test-and-clear of the Accessed or Dirty bit over a range (<c>ptep_test_and_clear_young</c>, the
/// dirty-log harvest of KVM): reports each 4 KiB page whose leaf had the bit, clears it atomically and records the
/// range in the gather, so that after the flush the next access through any CPU context sets it again. Holes are
/// skipped. A huge leaf only partly inside the range is reported but keeps its bit.</summary>
internal static unsafe class TestAndClearOperation
{
    internal struct Ops : IPageWalkOps
    {
        public ulong Bit;
        public ulong RangeStart;
        public ulong* Bitmap;
        public long Pages;
        public MmuGatherCore Gather;
        public MmStruct Mm;
        public WalkTables Tables;

        public static bool Mutates => true;

        public WalkAction Entry(int level, ulong* entry, ulong address, ulong next)
        {
            ulong value = *entry;
            if (value == 0) return WalkAction.Continue;
            if (!PageTableEntry.IsLeaf(value, level))
            {
                if ((value & PageTableEntry.Present) == 0) return WalkAction.Continue;
                Tables[level - 1] = PageTableEntry.TableAddress(value);
                return WalkAction.Descend;
            }
            if (next - address == Paging.LevelSize(level))
            {
                PageTableLock ptl = PageTableLocking.HugePteLock(Mm, level, Tables[level]);
                bool had = TestAndClear(entry);
                ptl.Unlock();
                if (had) Report(address, next);
            }
            else if ((value & Bit) != 0)
            {
                // Only part of a huge leaf is in range: report it but keep the bit, or the pages outside the
                // range would lose their record (a harmless repeat report is the price).
                Report(address, next);
            }
            return WalkAction.Continue;
        }

        public WalkAction PteRange(ulong* ptes, ulong address, ulong end)
        {
            // clear_refs_pte_range: the bits are cleared under the PTE table's lock.
            PageTableLock ptl = PageTableLocking.PteLockptr(Mm, Tables[Paging.PteLevel]);
            ptl.Lock();
            for (ulong a = address; a != end; a += Paging.PageSize, ptes++)
                if (*ptes != 0 && TestAndClear(ptes)) Report(a, a + Paging.PageSize);
            ptl.Unlock();
            return WalkAction.Continue;
        }

        public WalkAction AfterTable(int level, ulong* entry, ulong address, ulong next) => WalkAction.Continue;

        private bool TestAndClear(ulong* entry)
        {
            while (true)
            {
                ulong before = Volatile.Read(ref *entry);
                if ((before & Bit) == 0) return false;
                if (Interlocked.CompareExchange(ref *entry, before & ~Bit, before) == before) return true;
            }
        }

        private void Report(ulong start, ulong end)
        {
            Gather.AddRange(start, end);
            // Counted: a leaf ending at 2^64 has an end of 0.
            ulong a = start;
            for (ulong n = (end - start) >> Paging.PageShift; n != 0; n--, a += Paging.PageSize)
            {
                ulong index = (a - RangeStart) >> Paging.PageShift;
                Bitmap[index >> 6] |= 1UL << (int)(index & 63);
                Pages++;
            }
        }
    }

    public static long Run(MmStruct mm, ulong va, ulong length, ulong bit, Span<ulong> bitmap, MmuGatherCore gather)
    {
        using (mm.LockMmap())
        {
            if (mm.Disposed) ThrowHelper.ThrowAddressSpaceDisposed();
            gather.EnsureUsableFor(mm);
            fixed (ulong* map = bitmap)
            {
                var ops = new Ops { Bit = bit, RangeStart = va, Bitmap = map, Gather = gather, Mm = mm };
                ops.Tables[mm.RootLevel] = mm.RootPa;
                PageWalk.Walk(mm.Memory.Physical, mm.RootPa, mm.RootLevel, va, va + length, ref ops);
                return ops.Pages;
            }
        }
    }
}
