using System;
using System.IO;
using System.Linq;
using Xunit;

namespace FastPt.Tests;

/// <summary>Keeps the README's API example true: <see cref="Example"/> is the README's code block, compiled and run
/// here, and a test checks that the README still shows exactly this code.</summary>
public class ReadMeTests
{
    // ---- README example begins
    private static (ulong Value, Translation Translation, PagingResult Result, HotplugReport Added) Example()
    {
        using var machine = new Machine(new MachineOptions { MemorySize = 4UL << 30 });
        using AddressSpace space = machine.CreateAddressSpace();

        // Map 4 MiB of freshly allocated frames: two 2 MiB leaves, because both addresses are 2 MiB-aligned.
        PhysAddr frames = machine.AllocatePhysical(4UL << 20);
        var va = new VirtAddr(0x7f00_0000_0000);
        space.Map(va, frames, 4UL << 20, Protection.ReadWrite);

        space.Write(va + 0x1000, 42UL);                     // through the calling thread's TLB
        ulong value = space.Read<ulong>(va + 0x1000);

        // Unmapping one page splits its 2 MiB leaf; the flush happens before anything is freed.
        space.Unmap(va + 0x1000, 4096);
        Translation t = space.Translate(va + 0x1000);        // t.Succeeded == false, t.Fault.Reason == NotMapped

        // Precise, typed errors; a failed operation changes nothing.
        PagingResult r = space.TryMap(va, frames, 4096, Protection.Read);  // r.Error == AlreadyMapped

        // Memory hot-plug, as the kernel does it.
        HotplugReport added = machine.AddMemory(new PhysAddr(8UL << 30), 128UL << 20);
        machine.RemoveMemory(new PhysAddr(8UL << 30), 128UL << 20);
        return (value, t, r, added);
    }
    // ---- README example ends

    [Fact]
    public void The_readme_example_runs_and_does_what_its_comments_say()
    {
        (ulong value, Translation t, PagingResult r, HotplugReport added) = Example();
        Assert.Equal(42UL, value);
        Assert.False(t.Succeeded);
        Assert.Equal(FaultReason.NotMapped, t.Fault.Reason);
        Assert.Equal(PagingError.AlreadyMapped, r.Error);
        Assert.Equal(512, added.MemmapPagesDelta);
    }

    [Fact]
    public void The_readme_shows_exactly_the_tested_example()
    {
        string root = FindRepositoryRoot();
        string readme = File.ReadAllText(Path.Combine(root, "README.md"));
        string source = File.ReadAllText(Path.Combine(root, "tests", "FastPt.Tests", "ReadMeTests.cs"));
        string[] tested = Between(source, "// ---- README example begins", "// ---- README example ends")
            .Split('\n').Skip(3).SkipLast(3).Select(l => l.Trim()).Where(l => l.Length > 0).ToArray();
        int start = readme.IndexOf("```csharp", StringComparison.Ordinal);
        Assert.True(start >= 0, "README has no C# example");
        string block = readme[(start + 9)..readme.IndexOf("```", start + 9, StringComparison.Ordinal)];
        string[] shown = block.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith("using FastPt;", StringComparison.Ordinal)).ToArray();
        Assert.Equal(tested, shown);
    }

    [Fact]
    public void The_readme_layout_and_the_architecture_name_every_project_and_every_engine_folder_that_exists()
    {
        string root = FindRepositoryRoot();
        string readme = File.ReadAllText(Path.Combine(root, "README.md"));
        string layout = Between(readme, "## Layout", "## Performance");
        string architecture = File.ReadAllText(Path.Combine(root, "docs", "architecture.md"));
        string[] projects = Folders(Path.Combine(root, "src"));
        string[] layers = Folders(Path.Combine(root, "src", "FastPt"));
        Assert.Contains("Hardware", layers);
        foreach (string project in projects) Assert.Contains($"src/{project}/", layout, StringComparison.Ordinal);
        foreach (string layer in layers)
        {
            Assert.Contains($"\n  {layer}/", layout, StringComparison.Ordinal);
            Assert.Contains($"| `{layer}/` |", architecture, StringComparison.Ordinal);
        }
        // And nothing the layout lists under src/FastPt is missing from the tree.
        string[] listed = layout.Split('\n').Where(l => l.StartsWith("  ", StringComparison.Ordinal) && l.TrimStart().Split(' ')[0].EndsWith('/'))
            .Select(l => l.TrimStart().Split(' ')[0].TrimEnd('/')).ToArray();
        Assert.Equal(layers.Order(StringComparer.Ordinal), listed.Order(StringComparer.Ordinal));
    }

    private static string[] Folders(string path) =>
        Directory.GetDirectories(path).Select(Path.GetFileName).OfType<string>().Where(n => n is not ("bin" or "obj")).ToArray();

    private static string Between(string text, string from, string to)
    {
        int a = text.IndexOf(from, StringComparison.Ordinal), b = text.IndexOf(to, StringComparison.Ordinal);
        Assert.True(a >= 0 && b > a);
        return text[a..b];
    }

    private static string FindRepositoryRoot()
    {
        for (string? dir = AppContext.BaseDirectory; dir is not null; dir = Path.GetDirectoryName(dir))
            if (File.Exists(Path.Combine(dir, "FastPt.sln"))) return dir;
        throw new InvalidOperationException("repository root not found");
    }
}
