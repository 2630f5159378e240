using System.Collections.Generic;
using Xunit;

namespace FastPt.Tests;

/// <summary>Holds every free frame of a machine so that a test decides exactly what is free: single kernel frames
/// (ZONE_NORMAL) given back one at a time in ascending order, so that they coalesce into blocks as they would
/// have been, and whole ranges (a section to remove) given back at once.</summary>
internal sealed class FrameHog
{
    /// <summary>Largest block taken: a section, so that no block straddles two sections.</summary>
    private const ulong BlockLimit = 128UL << 20;

    private readonly Machine _machine;
    private readonly List<(PhysAddr Pa, ulong Size)> _blocks = new();
    private readonly List<PhysAddr> _singles = new();
    private int _released;

    private FrameHog(Machine machine) => _machine = machine;

    /// <summary>Frames in ZONE_NORMAL given back so far by <see cref="ReleaseSingle"/>.</summary>
    public int Released => _released;

    /// <summary>Takes every free frame, keeping <paramref name="singles"/> kernel frames as single 4 KiB blocks
    /// (taken from the lowest boot memory) for <see cref="ReleaseSingle"/>.</summary>
    public static FrameHog TakeAll(Machine machine, int singles)
    {
        var hog = new FrameHog(machine);
        for (ulong size = BlockLimit; size >= 4096; size /= 2)
            while (machine.TryAllocatePhysical(size, out PhysAddr pa)) hog._blocks.Add((pa, size));
        Assert.Equal(0, machine.GetStatistics().FreePages);
        // Trade the lowest blocks of ZONE_NORMAL for single frames: with nothing else free, each one comes back as
        // one 4 KiB block of the same memory.
        hog._blocks.Sort((a, b) => a.Pa.Value.CompareTo(b.Pa.Value));
        int traded = 0;
        while (hog._singles.Count < singles)
        {
            (PhysAddr pa, ulong size) = hog._blocks[traded++];
            machine.FreePhysical(pa, size);
            for (ulong done = 0; done < size && hog._singles.Count < singles; done += 4096) hog._singles.Add(machine.AllocatePhysical(4096));
            while (machine.TryAllocatePhysical(4096, out PhysAddr rest)) hog._blocks.Add((rest, 4096));
        }
        hog._blocks.RemoveRange(0, traded);
        hog._singles.Sort((a, b) => a.Value.CompareTo(b.Value));
        Assert.Equal(0, machine.GetStatistics().FreePages);
        return hog;
    }

    /// <summary>Gives back the next single frame (the lowest still held).</summary>
    public void ReleaseSingle()
    {
        Assert.True(_released < _singles.Count, "the hog holds no more single frames");
        _machine.FreePhysical(_singles[_released++], 4096);
    }

    /// <summary>Gives back every block held inside [<paramref name="start"/>, +<paramref name="size"/>).</summary>
    public void ReleaseRange(PhysAddr start, ulong size)
    {
        _blocks.RemoveAll(b =>
        {
            if (b.Pa.Value < start.Value || b.Pa.Value >= start.Value + size) return false;
            _machine.FreePhysical(b.Pa, b.Size);
            return true;
        });
    }

    /// <summary>Gives back everything still held.</summary>
    public void ReleaseAll()
    {
        foreach ((PhysAddr pa, ulong size) in _blocks) _machine.FreePhysical(pa, size);
        _blocks.Clear();
        while (_released < _singles.Count) ReleaseSingle();
    }
}
