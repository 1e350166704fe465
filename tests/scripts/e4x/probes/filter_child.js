var x = <list><p><age>30</age><n>A</n></p><p><age>40</age><n>B</n></p></list>;
print(x.p.(age > 35).n);
