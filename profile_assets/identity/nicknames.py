"""Common English given-name diminutives: "Bob" and "Robert" are one first name, not a typo.

String similarity cannot see that Bill is William or Peggy is Margaret, and treating them as
*different* first names would both miss matches and teach the model that matching people
often disagree on first names (which weakens the evidence against household members sharing
a mailbox). Groups list a formal name first, then its diminutives; a name may sit in several
groups (Chris: Christopher, Christine, Christina).
"""

from __future__ import annotations

import numpy as np

_GROUPS = """
abigail abby abbie gail | abraham abe | albert al bert bertie
alexander alex alec sandy xander | alexandra alex alexa sandra sandy lexi
alfred alf alfie fred freddie | allison allie ali | amanda mandy manda | andrew andy drew
angela angie | anthony tony ant | antonio tony | arthur art artie | barbara barb barbie babs
benjamin ben benny benji | bernard bernie | beverly bev | bradley brad | bridget biddy bridie
catherine cathy cat kate katie kathy | katherine kathy kate katie kat kitty
kathleen kathy kate katie | cynthia cindy | charles charlie chuck chas chaz
charlotte charlie lottie | christina chris tina christy | christine chris tina chrissy
christopher chris kit topher | clifford cliff | cornelius neil | daniel dan danny
danielle dani | david dave davy | deborah debbie deb debra | debra debbie deb | dennis denny
donald don donnie | dorothy dot dottie dolly | douglas doug | edward ed eddie ted ned
edwin ed eddie | eleanor ellie nell nora
elizabeth liz beth betty lizzie eliza libby bess betsy | ellen ellie nell | emily em emmy
eugene gene | evelyn evie | frances fran frankie fanny | francis frank fran
frederick fred freddie | gabriel gabe | gabrielle gabby | geoffrey geoff jeff
gerald gerry jerry | gertrude gertie trudy | gregory greg | harold harry hal | harriet hattie
helen nell | henry harry hank hal | herbert herb bert | howard howie | isabella bella izzy
isabel bella izzy | jacob jake | james jim jimmy jamie | janet jan | jeffrey jeff
jennifer jen jenny | jessica jess jessie | joan joanie | john johnny jack jon
jonathan jon jonny | joseph joe joey | josephine jo josie | joshua josh | judith judy jude
julia julie | justin justy | kenneth ken kenny | kimberly kim | lawrence larry laurie
leonard leo len lenny | leslie les | lillian lily lil | louis lou louie | louise lou lulu
lucinda lucy cindy | madeline maddie | margaret maggie meg peggy marge | martha marty mattie
martin marty | mary molly polly mae | matthew matt | melissa missy mel | melanie mel
michael mike mikey mick mickey micky | michelle shelly | mitchell mitch | nancy nan
natalie nat | nathan nate nat | nathaniel nate nat nathan | nicholas nick nicky nicko
nicole nicky nikki | olivia liv livvy | oliver ollie | pamela pam
patricia pat patty tricia trish | patrick pat paddy | peter pete | philip phil pip
phillip phil | rachel rach | raymond ray | rebecca becky becca
richard rick ricky dick rich richie | robert bob rob robbie bobby bert | roberta bobbie
ronald ron ronnie | rosemary rose rosie | russell russ | samantha sam sammy | samuel sam sammy
sandra sandy | sarah sally sadie | stephanie steph stephie | stephen steve stevie
steven steve stevie | stuart stu | susan sue susie suzy | suzanne sue susie suzy | sylvia syl
terence terry | theodore ted teddy theo | theresa terry tess tessa | thomas tom tommy
timothy tim timmy | tobias toby | valerie val | veronica ronnie vera | victoria vicky tori
vincent vince vinny | virginia ginny | walter walt wally | wendy wen
william will bill billy willy liam | winifred winnie | zachary zach zack
"""


def _groups() -> dict[str, frozenset[int]]:
    """name -> ids of the groups it belongs to."""
    groups: dict[str, set[int]] = {}
    lines = [g.split() for g in _GROUPS.replace("\n", "|").split("|")]
    for number, names in enumerate(n for n in lines if n):
        for name in names:
            groups.setdefault(name, set()).add(number)
    return {name: frozenset(ids) for name, ids in groups.items()}


NICKNAME_GROUPS = _groups()


def is_variant(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Elementwise: a and b belong to one name group (Robert, Bob and Robbie; Drew and Andy)
    or one is a prefix (>= 3 letters) of the other ("jen"/"jennifer", "chris"/"christopher")."""
    none: frozenset[int] = frozenset()
    out = np.zeros(len(a), dtype=bool)
    for i, (x, y) in enumerate(zip(a.tolist(), b.tolist(), strict=True)):
        short, long_ = (x, y) if len(x) <= len(y) else (y, x)
        shared = NICKNAME_GROUPS.get(x, none) & NICKNAME_GROUPS.get(y, none)
        out[i] = bool(shared) or (len(short) >= 3 and long_.startswith(short))
    return out
