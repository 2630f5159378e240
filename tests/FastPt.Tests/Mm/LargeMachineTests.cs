using System;
using Xunit;
using static FastPt.Tests.TestMachines;

namespace FastPt.Tests.Mm;

[Collection("Serial")]
public class LargeMachineTests
{
    [Fact]
    public void A_terabyte_machine_boots_without_touching_its_memory()
    {
        GC.Collect();
        long residentBefore = Environment.WorkingSet;
        using var machine = new Machine(new MachineOptions { MemorySize = 1UL << 40 });
        long resident = Environment.WorkingSet - residentBefore;
        MemoryStatistics s = machine.GetStatistics();
        Assert.Equal(8192, s.PresentSections);
        Assert.Equal(8192L * 512, s.MemmapBootPages);
        // The memmap of 1 TiB is 16 GiB; boot writes only the descriptors of memblock-reserved frames (about 1/64
        // of it, as the kernel's reserve_bootmem_region does) and one per free 1 GiB block.
        Assert.True(resident < 768 * (long)MiB, $"boot made the process grow by {resident >> 20} MiB");
        Assert.True(s.HostBytes < 4 * (long)GiB, $"boot wrote into {s.HostBytes >> 20} MiB of chunks");
        Assert.True(s.FreePages > (long)((1UL << 40) >> 12) * 98 / 100);
        using AddressSpace space = machine.CreateAddressSpace();
        space.Map(V(1UL << 39), P(900 * GiB), 4 * GiB, Protection.ReadWrite);
        Assert.Equal(4, space.LeafCount(PageSize.Size1G));
    }
}
