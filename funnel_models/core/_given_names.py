"""Common given names, for telling a column of people's names from other text.

About 900 frequent first names from English-, German-, French-, Spanish-,
Portuguese-, Italian-, Dutch-, Nordic-, Polish- and Turkish-speaking countries,
and a few frequent elsewhere, written from general knowledge (no list was
copied). A column is read as people's names only when many of its values start
with one of these: a name missing here is still caught by the column's own
name (``first_name``, ``contact_name``, ...).
"""

from __future__ import annotations

_NAMES = """
aaron abigail ada adam adrian adriana agnes ahmed aidan aisha alan albert alberto alejandro
alessandra alessandro alex alexander alexandra alexandre alexis alfred alfredo ali alice alicia
alina alison amanda amber amelia amir amy ana anders andre andrea andreas andrew andrzej
angel angela angelica angelo anita ann anna anne anneke annette anthony anton antonio april
arjun arne arthur astrid audrey aurora austin ava axel barbara barry bart beatrice beatriz
beatrix ben benjamin bernard bernd bert beth betty bianca bill birgit bjorn blake bob bonnie
boris brad bradley brandon brenda brian bridget britta brooke bruce bruno bryan caitlin
camila camille carl carla carlos carmen carol carole caroline carolyn carsten cat catherine
cecilia celine charles charlie charlotte chelsea cheryl chloe chris christian christina
christine christoph christopher cindy claire clara claudia claudio colin connor craig
cristina cy cynthia dale damian dan daniel daniela danielle daniel dario david dawn dean
debbie deborah denise dennis derek diana diane diego dieter dirk dmitri dominik dominique
donald donna doris dorothy douglas duncan dylan ed eddie edith edward eduardo egon elena
eli elias elif elijah elisa elisabeth elizabeth ella ellen ellie elsa emil emilia emily emma
emre enrique enzo eric erica erik erika ernst esther ethan eugene eva evelyn fabian fabio
fatima felix fernando filip filippo finn fiona florian frances francesca francesco francis
francisco franck frank franz fred freddie frederick frida gabriel gabriela gabriele gail gary
gemma geoffrey george georg gerald gerard gerhard gianluca gina giorgio giovanni giulia
giuseppe gladys glen glenn gloria gordon grace graham greg gregory greta gustav hana hannah
hans harald harold harry hassan hauke heather heidi heike heinz helen helena helga henrik
henry herbert hilda holly howard hugo ian ida ignacio ilse ines ingrid irene iris isaac
isabel isabella isabelle ivan jack jackie jacob jacqueline jake james jamie jan jana jane
janet janice jason javier jean jeff jeffrey jennifer jenny jens jeremy jerome jerry jessica
jill jim jimmy joan joanna joao joaquin jochen joe joel johan johanna johannes john jon
jonas jonathan jordan jorge jose josef joseph josephine joshua joyce juan judith judy julia
julian julie juliette jurgen justin kai karen karin karl kasper kate katharina katherine
kathleen kathryn katie katrin kay keith kelly ken kenneth kerstin kevin kim kirsten klaus
kristina kurt kyle lara larry lars laura lauren laurent lea lee lena leo leon leonardo
leonie lewis liam lily linda lisa lois lorenzo lori louis louise lucas lucia luciana lucy
luis luisa luka lukas luke lydia madison magdalena magnus maja malik manuel manuela marc
marcel marcelo marco marcus margaret margarete maria marian marianne marie marilyn mario
marion marisa mark marko markus marta martha martin martina marty mary mason mateo matias
matteo matthew matthias maureen max maximilian maya megan mehmet melanie melissa mia michael
michaela michel michele michelle miguel mikael mike milan mila miriam mohamed mohammed monica
monika morgan moses muhammad nadia nancy naomi natalia natalie nathan nathalie neil nicholas
nick nicola nicolas nicole niklas nikolai nina noah noel nora norbert norma olaf olga oliver
olivia omar oscar otto owen pablo pamela paola pascal patricia patrick paul paula paulo pedro
peggy per peter petra philip philipp phillip phyllis pierre pietro piotr priya rachel rafael
raj ralf ralph ramon randy raphael raquel raul ray raymond rebecca reed regina reinhard
renate rene ricardo richard rick riccardo rita rob robert roberto robin rodrigo roger roland
rolf roman ronald rosa rosalind rose rosie ross ruby rudolf russell ruth ryan sabine sabrina
sally salvatore sam samantha samuel sandra sanjay sara sarah sascha scott sean sebastian
sergio seth shannon sharon shawn sheila shirley silke silvia simon simone sofia sophia sophie
stefan stefanie stella stephanie stephen steve steven susan susanne suzanne sven sylvia tamara
tanja tara ted teresa terry thea theo theresa thomas tim timothy tina tobias todd tom tomas
tommaso tony tracy travis troy ulrich ursula uwe valentina valeria vanessa vera veronica
victor victoria vincent violet virginia vivian walter wanda warren wayne wei wendy werner
wilhelm will william willem wolfgang xavier yasmin yusuf yvonne zach zachary zoe zofia
abby adele alba albin alvin amelie andy angie annika antoine arnold barney benedikt bernadette
bettina bobby brett brigitte bruna caleb calvin cara carina carlo carlton carrie casey cecile
cecily celia chad chantal chester christa claude clemens cody cora corinna curtis dagmar daisy
dana darius darren dave dennis desmond dina dolores dominic don dora dustin earl edgar edwin
elaine eleanor eliza ellis elmar emilio erin ernest esteban ethel eugenia fabienne faith felipe
felicity fernanda flora floyd frederic frieda garret garrett gavin gene georgia gerd gertrud
gil gilbert gisela gordon guillaume gunnar gustavo hamza hayden hector heinrich herman hilary
horst hubert ingo irina isaac isla jade jared jasmine jasper jay jeanne jesse jesus joanne
jolanda jonah josie juana julio june kaitlyn karina karl kayla keira kendra kent kirk kristin
lacey lance lea leah leila lenny leroy leslie lester lillian lina lionel lorena lorraine lotte
lucille lukas lyle mabel mandy marcia margot marianna marina marlene marvin mathilde maurice
mavis melvin mercedes mia micah mildred milo miranda mitchell molly myra nadine nancy neville
nils noreen odette olive oskar pam patrice patty pauline pearl penelope percy phoebe pia quentin
rafaela ramona randall reese regis reinhold rhonda rocco rodney roxanne rudy ruben sabina
sandro santiago selina serena sherry sidney silas sonia sonja stacy stanley stuart summer
sybille tabitha tatiana terence tess thelma tilda tobias toni trevor tyler ulla ulrike ursel
valerie vicki victoria vince vivienne wade wallace wes wesley wilma winston yolanda yuki zane
zelda
"""

GIVEN_NAMES: frozenset[str] = frozenset(_NAMES.split())
