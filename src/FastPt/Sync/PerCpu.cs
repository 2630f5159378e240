using System;
using System.Runtime.CompilerServices;
using System.Threading;

namespace FastPt.Sync;

/// <summary>The "CPU" a thread runs on for per-CPU data (<c>raw_smp_processor_id</c>): managed threads are not pinned
/// to processors, so each thread gets a slot of its own on first use, round-robin over <see cref="Slots"/>. Two
/// threads may share a slot once more than <see cref="Slots"/> threads asked for one, so per-CPU data still
/// synchronises (a lock or an atomic on its own cache line: uncontended while threads keep to their slots).</summary>
internal static class PerCpu
{
    /// <summary>Slots there are (a power of two).</summary>
    public const int Slots = 64;

    [ThreadStatic] private static int t_slotPlusOne;
    private static int s_next;

    /// <summary>The calling thread's slot, in [0, <see cref="Slots"/>).</summary>
    public static int Current
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get
        {
            int slot = t_slotPlusOne;
            return slot != 0 ? slot - 1 : Assign();
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int Assign()
    {
        int slot = (Interlocked.Increment(ref s_next) - 1) & (Slots - 1);
        t_slotPlusOne = slot + 1;
        return slot;
    }
}
