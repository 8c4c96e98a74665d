#!/usr/bin/perl
# hostile_xml.pl CASE [SIGNATURE]: one of the hostile-manifest family of
# issue 11 class 4 on stdout, each just under the 16 MiB manifest cap
# (tests/e2e/worst_day_hostile_xml.sh). Every case has the manifest's root
# element in its namespace, so only its shape is wrong; SIGNATURE (a file
# holding a real manifest's <Signature> element) is put last in the root,
# where the verifier looks for it, so a reader without the shape check
# goes on to canonicalize the whole document.
use strict;
use warnings;
my ($case, $sigfile) = @ARGV;
die "usage: hostile_xml.pl CASE [SIGNATURE]\n" unless defined $case;
my $sig = '';
if (defined $sigfile) {
    open(my $fh, '<', $sigfile) or die "hostile_xml.pl: $sigfile: $!\n";
    local $/;
    $sig = <$fh>;
}
my $cap = 16 * 1024 * 1024 - 4096;
my $root = '<backupmanifest xmlns="urn:hsmbak:manifest:1" format="1">';
my $end = $sig . '</backupmanifest>';
my $room = $cap - length($root) - length($end);
binmode STDOUT;
sub fill { my ($unit, $room) = @_; return $unit x int($room / length($unit)); }
if ($case eq 'ns-heavy') {
    # 200 nested elements (libxml2 alone stops at 256), each declaring
    # thousands of namespaces of its own and using each in an attribute:
    # the quadratic exclusive-C14N case of the issue (every prefix rendered
    # is looked for in a stack holding every ancestor's).
    my $unit = length(' xmlns:n0000000="urn:n0000000" n0000000:a=""');
    my $per = int($room / 200 / $unit);
    my ($open, $close) = ('', '');
    for my $level (1 .. 200) {
        my @p = map { sprintf('n%03d%04d', $level, $_) } 1 .. $per;
        $open .= '<backup' . join('', map { " xmlns:$_=\"urn:$_\"" } @p)
            . join('', map { " $_:a=\"\"" } @p) . '>';
        $close .= '</backup>';
    }
    print $root, $open, $close, $end;
} elsif ($case eq 'foreign-ns') {
    print '<backupmanifest xmlns="urn:hsmbak:manifest:1" xmlns:e="urn:evil" format="1">',
        fill('<e:x/>', $room - 20), $end;
} elsif ($case eq 'deep') {
    my $n = int($room / length('<x></x>'));
    print $root, '<x>' x $n, '</x>' x $n, $end;
} elsif ($case eq 'wide') {
    print $root, fill('<x/>', $room), $end;
} elsif ($case eq 'wide-text') {
    print $root, fill("<x>a</x>\n", $room), $end;
} elsif ($case eq 'comments') {
    print $root, fill('<!---->', $room), $end;
} elsif ($case eq 'attrs-one') {
    my $n = int(($room - 20) / length(' a0000000=""'));
    print $root, '<backup', (map { sprintf(' a%07d=""', $_) } 1 .. $n), '/>', $end;
} elsif ($case eq 'attrs-spread') {
    print $root, fill('<x a="" b="" c="" d="" e="" f="" g="" h=""/>', $room), $end;
} elsif ($case eq 'long-text') {
    print $root, '<backup><id>', 'A' x ($room - 30), '</id></backup>', $end;
} elsif ($case eq 'long-attr') {
    print $root, '<backup id="', 'A' x ($room - 30), '"/>', $end;
} else {
    die "hostile_xml.pl: unknown case '$case'\n";
}
